"""Facts about the host that ``/info`` and ``/version`` report."""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class HostInfo:
    kernel_version: str
    operating_system: str
    os_version: str
    architecture: str
    ncpu: int
    mem_total: int
    cgroup_version: str
    hostname: str


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    for candidate in (Path("/etc/os-release"), Path("/usr/lib/os-release")):
        try:
            text = candidate.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value.strip().strip('"')
        break
    return values


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cgroup_version() -> str:
    """ "2" on a unified hierarchy, "1" on legacy and hybrid layouts."""
    return "2" if (CGROUP_ROOT / "cgroup.controllers").exists() else "1"


@cache
def host_info() -> HostInfo:
    release = _os_release()
    return HostInfo(
        kernel_version=platform.release(),
        operating_system=release.get("PRETTY_NAME", "Linux"),
        os_version=release.get("VERSION_ID", ""),
        architecture=platform.machine(),
        ncpu=os.cpu_count() or 1,
        mem_total=_mem_total(),
        cgroup_version=cgroup_version(),
        hostname=platform.node(),
    )


@cache
def find_runtimes() -> dict[str, str]:
    """OCI runtimes on PATH, crun first as the preferred one; looked up once, as dockerd
    resolves its runtimes at start (every inspect asks)."""
    found = {}
    for name in ("crun", "runc"):
        path = shutil.which(name)
        if path:
            found[name] = path
    return found
