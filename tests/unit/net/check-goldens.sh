#!/bin/sh
# Feeds the golden files to the real tools: every golden nftables script
# must load with `nft -f -` (twice, to the same ruleset: it is idempotent)
# and the empty one must remove both tables again; every golden dnsmasq
# configuration must pass `dnsmasq --test`.
#
# The scripts are loaded in a scratch network namespace, never in the
# host's own ruleset. Needs root, ip, nft and dnsmasq; skips (77) where
# any is missing or no namespace can be made.
#
#     tests/unit/net/check-goldens.sh tests/unit/net/golden
set -u
golden=$1

[ "$(id -u)" = 0 ] || { echo "skip: needs root for a network namespace"; exit 77; }
for tool in ip nft dnsmasq; do
	command -v "$tool" >/dev/null 2>&1 || { echo "skip: no $tool"; exit 77; }
done
ns=warren-nettest-$$
ip netns add "$ns" 2>/dev/null || { echo "skip: cannot make a network namespace"; exit 77; }
trap 'ip netns del "$ns"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }

failed=0
fail() { echo "FAIL: $*"; failed=1; }

# The interfaces the goldens name, as the daemon would have made them.
for br in wn1 wn1v5 wn2 wn3; do
	in_ns ip link add "$br" type bridge || fail "bridge $br"
done
for tap in wt0123456789n0 wt0123456789n1 wtabcdef0123n0 wtfedcba9876n0; do
	in_ns ip tuntap add "$tap" mode tap || fail "tap $tap"
done

for script in "$golden"/*.nft; do
	name=${script##*/}
	in_ns nft -f - <"$script" || { fail "$name does not load"; continue; }
	first=$(in_ns nft list ruleset)
	in_ns nft -f - <"$script" || { fail "$name does not load a second time"; continue; }
	second=$(in_ns nft list ruleset)
	[ "$first" = "$second" ] || fail "$name gives a different ruleset the second time"
	if [ "$name" = none.nft ]; then
		[ -z "$first" ] || fail "$name leaves tables behind"
	else
		echo "$first" | grep -q '^table ip warren' || fail "$name made no ip table"
	fi
	in_ns nft -f - <"$golden/none.nft" || fail "none.nft does not load after $name"
	[ -z "$(in_ns nft list ruleset)" ] || fail "none.nft leaves tables behind after $name"
	echo "ok: $name"
done

for conf in "$golden"/*.dnsmasq.conf; do
	dnsmasq --test --conf-file="$conf" >/dev/null 2>&1 || fail "${conf##*/} does not parse"
	echo "ok: ${conf##*/}"
done
exit $failed
