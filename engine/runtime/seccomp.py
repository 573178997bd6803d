"""Docker-format seccomp profiles, converted to the OCI ``linux.seccomp`` form.

``seccomp_default.json`` is moby's default profile, copied unchanged from
github.com/moby/profiles/seccomp v0.2.3 (default.json; Apache-2.0, The Moby Authors).

Docker's format adds to the OCI one an ``archMap`` (native arch → sub-architectures) and, per
syscall rule, ``includes``/``excludes`` filters on capabilities, architectures and a minimum
kernel. They are evaluated here, as moby's ``setupSeccomp`` does, against the container's
bounding capabilities, the host architecture and the host kernel (both passed in: pure).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter

#: ``uname -m`` → the libseccomp-style arch name Docker profiles use in includes/excludes.
MACHINE_TO_NATIVE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "x86",
    "i686": "x86",
    "x86": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "arm": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "s390": "s390",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}

#: Native arch name → the SCMP_ARCH_* constant that opens its ``archMap`` entry.
NATIVE_TO_SCMP = {
    "x86": "SCMP_ARCH_X86",
    "amd64": "SCMP_ARCH_X86_64",
    "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64",
    "loongarch64": "SCMP_ARCH_LOONGARCH64",
    "mips64": "SCMP_ARCH_MIPS64",
    "ppc": "SCMP_ARCH_PPC",
    "ppc64": "SCMP_ARCH_PPC64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64",
    "s390": "SCMP_ARCH_S390",
    "s390x": "SCMP_ARCH_S390X",
}

# Fields of the OCI LinuxSeccomp / LinuxSyscall objects passed through unchanged.
_PROFILE_FIELDS = (
    "defaultAction",
    "defaultErrnoRet",
    "flags",
    "listenerPath",
    "listenerMetadata",
)
_SYSCALL_FIELDS = ("names", "action", "errnoRet", "args")

Kernel = tuple[int, int]


@cache
def _default_profile_text() -> str:
    # A plain read: importlib.resources would pull in zipfile and its readers for good, half a
    # megabyte of an idle engine's memory, for a package that is never zipped.
    return Path(__file__).with_name("seccomp_default.json").read_text("utf-8")


def default_profile() -> dict[str, Any]:
    """A fresh copy of Docker's default profile (Docker's format, not yet converted)."""
    return dict(json.loads(_default_profile_text()))


def load_profile(text: str) -> dict[str, Any]:
    """Parse a profile in Docker's format (what ``--security-opt seccomp=<file>`` sends)."""
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidParameter(f"Decoding seccomp profile failed: {exc}") from None
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: not a JSON object")
    return profile


def parse_kernel_release(release: str) -> Kernel:
    """(kernel, major) of a ``uname -r`` string: "6.1.0-18-amd64" → (6, 1)."""
    match = re.match(r"(\d+)\.(\d+)", release)
    if match is None:
        raise ValueError(f"failed to parse kernel version {release!r}")
    return int(match.group(1)), int(match.group(2))


def _min_kernel(value: Any) -> Kernel | None:
    if value in (None, ""):
        return None
    parts = str(value).split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts == ["0", "0"]:
        raise InvalidParameter(f'invalid kernel version: "{value}", expected "<kernel>.<major>"')
    return int(parts[0]), int(parts[1])


def _rule_applies(
    rule: Mapping[str, Any], caps: Collection[str], arch: str, kernel: Kernel
) -> bool:
    excludes = rule.get("excludes") or {}
    if arch in (excludes.get("arches") or ()):
        return False
    if any(c in caps for c in excludes.get("caps") or ()):
        return False
    minimum = _min_kernel(excludes.get("minKernel"))
    if minimum is not None and kernel >= minimum:
        return False
    includes = rule.get("includes") or {}
    arches = includes.get("arches") or ()
    if arches and arch not in arches:
        return False
    if not all(c in caps for c in includes.get("caps") or ()):
        return False
    minimum = _min_kernel(includes.get("minKernel"))
    return minimum is None or kernel >= minimum


def to_oci(
    profile: Mapping[str, Any],
    *,
    capabilities: Collection[str],
    host_arch: str,
    kernel: Kernel,
) -> dict[str, Any] | None:
    """Convert a Docker-format profile to ``linux.seccomp``; None when it disables seccomp.

    ``capabilities`` is the container's bounding set, ``host_arch`` the ``uname -m`` of the
    host, ``kernel`` its (version, major revision).
    """
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidParameter(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    out: dict[str, Any] = {k: copy.deepcopy(profile[k]) for k in _PROFILE_FIELDS if k in profile}
    arch = MACHINE_TO_NATIVE.get(host_arch, host_arch)
    architectures = list(profile.get("architectures") or ())
    scmp_arch = NATIVE_TO_SCMP.get(arch)
    for entry in profile.get("archMap") or ():
        if scmp_arch is not None and entry.get("architecture") == scmp_arch:
            architectures = [scmp_arch, *(entry.get("subArchitectures") or ())]
            break
    if architectures:
        out["architectures"] = architectures

    syscalls: list[dict[str, Any]] = []
    for rule in profile.get("syscalls") or ():
        if rule.get("name"):
            if rule.get("names"):
                raise InvalidParameter(
                    "both 'name' and 'names' are specified in the seccomp profile, "
                    "use either 'name' or 'names'"
                )
            rule = {**rule, "names": [rule["name"]]}
        if not _rule_applies(rule, capabilities, arch, kernel):
            continue
        syscalls.append(
            {k: copy.deepcopy(rule[k]) for k in _SYSCALL_FIELDS if rule.get(k) not in (None, [])}
        )
    if syscalls:
        out["syscalls"] = syscalls
    return out
