"""engine.runtime.seccomp: Docker-format seccomp profiles → the OCI ``linux.seccomp`` form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import InvalidParameter
from engine.runtime.oci_spec import SpecInput, build_spec
from engine.runtime.seccomp import default_profile, parse_kernel_release, to_oci


def spec(**kwargs: Any) -> dict[str, Any]:
    return build_spec(SpecInput(rootfs="/rootfs", args=["sh"], env=[], **kwargs))


def allowed_syscalls(s: dict[str, Any]) -> set[str]:
    return {
        name
        for rule in s["linux"]["seccomp"]["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def test_seccomp_default_profile() -> None:
    s = spec(kernel=(6, 1))
    profile = s["linux"]["seccomp"]
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = allowed_syscalls(s)
    assert {"read", "write", "ptrace", "arch_prctl"} <= allowed
    assert "mount" not in allowed and "reboot" not in allowed
    assert all(set(rule) <= {"names", "action", "errnoRet", "args"} for rule in profile["syscalls"])
    assert "ptrace" not in allowed_syscalls(spec(kernel=(4, 4)))
    assert "ptrace" in allowed_syscalls(spec(kernel=(4, 4), cap_add=("SYS_PTRACE",)))
    admin = allowed_syscalls(spec(cap_add=("SYS_ADMIN",)))
    assert {"mount", "unshare", "setns"} <= admin
    arm = spec(host_arch="aarch64")["linux"]["seccomp"]
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in allowed_syscalls(spec(host_arch="aarch64"))
    assert parse_kernel_release("6.1.0-18-amd64") == (6, 1)


def test_seccomp_unconfined_and_custom() -> None:
    assert "seccomp" not in spec(seccomp="unconfined")["linux"]
    custom = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"name": "chmod", "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {
                "names": ["mount"],
                "action": "SCMP_ACT_ERRNO",
                "excludes": {"caps": ["CAP_SYS_ADMIN"]},
            },
        ],
    }
    s = spec(seccomp=json.dumps(custom))
    assert s["linux"]["seccomp"] == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO"},
        ],
    }
    # Privileged containers still get an explicitly given profile.
    assert "seccomp" in spec(seccomp=json.dumps(custom), privileged=True)["linux"]
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        spec(seccomp="{not json")


def test_conversion_is_pure() -> None:
    profile = default_profile()
    before = json.dumps(profile, sort_keys=True)
    to_oci(profile, capabilities=["CAP_SYS_ADMIN"], host_arch="x86_64", kernel=(6, 1))
    assert json.dumps(profile, sort_keys=True) == before
    assert to_oci({}, capabilities=[], host_arch="x86_64", kernel=(6, 1)) is None


def test_profile_errors() -> None:
    both = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x"], "archMap": [{}]}
    with pytest.raises(InvalidParameter, match="both 'architectures' and 'archMap'"):
        spec(seccomp=json.dumps(both))
    bad_kernel = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["x"], "action": "a", "includes": {"minKernel": "4"}}],
    }
    with pytest.raises(InvalidParameter, match="invalid kernel version"):
        spec(seccomp=json.dumps(bad_kernel))
