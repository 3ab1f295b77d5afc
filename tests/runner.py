"""Run every test of Warren and print one closing count.

Unit tests are the cmocka executables under <build>/tests/unit (run with
TAP output); integration tests are the pytest files under
tests/integration. Each test case of either kind counts once.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAP_LINE = re.compile(r"^(ok|not ok) \d+ - (\S+)(.*)$")


def run_unit(build: Path):
    passed = failed = skipped = 0
    exes = sorted(p for p in (build / "tests").rglob("test_*")
                  if p.is_file() and os.access(p, os.X_OK))
    if not exes:
        print("runner: no unit test executables found", file=sys.stderr)
        return 0, 1, 0
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    for exe in exes:
        proc = subprocess.run([str(exe)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
        seen = 0
        for line in proc.stdout.splitlines():
            m = TAP_LINE.match(line)
            if not m:
                continue
            seen += 1
            if "# SKIP" in m.group(3):
                skipped += 1
            elif m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
                print(f"FAIL unit {exe.name}: {m.group(2)}")
        if proc.returncode != 0 or seen == 0:
            # A crash (sanitizer report, abort) may cut the TAP stream short.
            print(proc.stdout)
            if seen == 0 or proc.returncode != 0 and "not ok" not in proc.stdout:
                failed += 1
                print(f"FAIL unit {exe.name}: exited with {proc.returncode}")
        print(f"unit {exe.name}: {seen} cases")
    return passed, failed, skipped


def run_integration(extra):
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v",
               f"--junitxml={xml}", str(ROOT / "tests" / "integration")] + extra
        proc = subprocess.run(cmd, cwd=ROOT)
        if not xml.exists():
            return 0, 1, 0
        passed = failed = skipped = 0
        for case in ET.parse(xml).getroot().iter("testcase"):
            kinds = {child.tag for child in case}
            if kinds & {"failure", "error"}:
                failed += 1
            elif "skipped" in kinds:
                skipped += 1
            else:
                passed += 1
        if proc.returncode not in (0, 1) and failed == 0:
            failed += 1  # pytest itself broke (usage error, internal error)
        return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--unit-only", action="store_true")
    args, extra = ap.parse_known_args()
    up, uf, us = run_unit(args.build)
    ip = if_ = is_ = 0
    if not args.unit_only:
        ip, if_, is_ = run_integration(extra)
    passed, failed, skipped = up + ip, uf + if_, us + is_
    print(f"unit: {up} passed, {uf} failed, {us} skipped; "
          f"integration: {ip} passed, {if_} failed, {is_} skipped")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
