/*
 * size: parsing and printing of byte sizes as users write them ("512M").
 *
 * Sizes are binary (K = 1024). A fractional part is allowed ("1.5G") but
 * exponents, signs and whitespace are not: "1e99G" and "-5M" are errors,
 * never silently clamped.
 */
#include <ctype.h>
#include <string.h>

#include "util/util.h"

static int suffix_shift(const char *s, unsigned *ret_shift)
{
	static const struct {
		char c;
		unsigned shift;
	} units[] = {
		{'\0', 0}, {'B', 0}, {'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}, {'P', 50},
	};
	char c = (char)toupper((unsigned char)s[0]);

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (units[i].c != c)
			continue;
		if (c == '\0' || c == 'B') {
			if (c == 'B' && s[1] != '\0')
				return -EINVAL;
		} else if (!(s[1] == '\0' || (s[1] == 'B' && s[2] == '\0') ||
			     ((s[1] == 'i' || s[1] == 'I') && s[2] == 'B' && s[3] == '\0'))) {
			return -EINVAL;
		}
		*ret_shift = units[i].shift;
		return 0;
	}
	return -EINVAL;
}

int size_parse(const char *s, uint64_t *ret_bytes)
{
	uint64_t whole = 0, frac_num = 0, frac_den = 1;
	const char *p = s;
	unsigned shift;
	int r;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			/* Digits past the ninth cannot change a whole byte count of
			 * any realistic size; ignore them rather than overflow. */
			if (frac_den < 1000000000ULL) {
				frac_num = frac_num * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
	}
	r = suffix_shift(p, &shift);
	if (r < 0)
		return r;
	if (shift > 0 && whole > (UINT64_MAX >> shift))
		return -ERANGE;
	uint64_t bytes = whole << shift;
	if (frac_num) {
		if (shift == 0)
			return -EINVAL; /* fractional bytes make no sense */
		/* frac_num < frac_den <= 1e9 and shift <= 50 keep this within 128 bits. */
		unsigned __int128 extra = ((unsigned __int128)frac_num << shift) / frac_den;
		if (bytes > UINT64_MAX - (uint64_t)extra)
			return -ERANGE;
		bytes += (uint64_t)extra;
	}
	*ret_bytes = bytes;
	return 0;
}

char *size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t i = 0;

	while (v >= 1024.0 && i + 1 < ARRAY_SIZE(names)) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, names[i]);
	return buf;
}
