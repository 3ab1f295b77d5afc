"""The accelerator probe, run for real on this host."""
import os
import subprocess

from warrenlib import warrend_bin


def probe(*args):
    return subprocess.run([str(warrend_bin()), "--check-accel", *args], capture_output=True,
                          text=True, timeout=30)


def test_probe_explains_its_choice():
    p = probe()
    assert p.returncode == 0, p.stderr
    kind = p.stdout.split("accelerator:")[1].split()[0]
    reason = p.stdout.split("reason:")[1].strip()
    assert kind in ("kvm", "tcg") and reason
    if not os.path.exists("/dev/kvm"):
        assert kind == "tcg" and "no KVM device" in reason


def test_probe_rejects_a_device_that_is_not_kvm():
    p = probe("--kvm-device", "/dev/null")
    assert "accelerator: tcg" in p.stdout
    assert "unusable" in p.stdout


def test_probe_honours_forced_tcg():
    p = probe("--accel", "tcg")
    assert "accelerator: tcg" in p.stdout and "configuration" in p.stdout
