"""What the container service needs to know about the host, found once at engine start:
the OCI runtime, the cgroup layout, the kernel, the engine's own capabilities and limits."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.errors import Unavailable
from engine.runtime.capabilities import capabilities_from_mask
from engine.runtime.cgroups import CgroupSetup, prepare_cgroups
from engine.runtime.oci import OciRuntime
from engine.runtime.oci_resources import DeviceMapping, Ulimit
from engine.runtime.seccomp import parse_kernel_release

INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/bin/tini")


@dataclass(frozen=True)
class HostSetup:
    runtime: OciRuntime
    cgroups: CgroupSetup
    kernel: tuple[int, int]
    arch: str
    engine_caps: tuple[str, ...]
    default_ulimits: tuple[Ulimit, ...]
    init_path: str | None

    @property
    def cgroup_version(self) -> str:
        return "2" if self.cgroups.layout.name.lower() == "unified" else "1"


def _engine_caps() -> tuple[str, ...]:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return tuple(capabilities_from_mask(int(line.split()[1], 16)))
    return ()


def _default_ulimits() -> tuple[Ulimit, ...]:
    """dockerd's nofile default of 1048576, capped at what the engine may give away: raising a
    hard limit needs CAP_SYS_RESOURCE, which some hosts withhold even from root."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    return (Ulimit("nofile", limit, limit),)


def find_init() -> str | None:
    """A static init for --init: it runs inside the container, so it must not need libraries."""
    for candidate in INIT_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("tini-static")


def detect_host(exec_root: Path) -> HostSetup:
    cgroups = prepare_cgroups()
    if cgroups.runtime is None:
        raise Unavailable("no OCI runtime found: install crun or runc")
    return HostSetup(
        runtime=OciRuntime(cgroups.runtime, exec_root / "runtime"),
        cgroups=cgroups,
        kernel=parse_kernel_release(os.uname().release),
        arch=platform.machine(),
        engine_caps=_engine_caps(),
        default_ulimits=_default_ulimits(),
        init_path=find_init(),
    )


def host_devices() -> tuple[DeviceMapping, ...]:
    """Every device node under /dev, for privileged containers."""
    devices = []
    for root, dirs, files in os.walk("/dev"):
        dirs[:] = [d for d in dirs if d not in ("pts", "shm", "mqueue")]
        for name in files:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                devices.append(device_mapping(path, path, "rwm", info))
    return tuple(devices)


def device_mapping(
    host_path: str, container_path: str, permissions: str, info: os.stat_result | None = None
) -> DeviceMapping:
    """A ``--device`` for a host node; InvalidParameter-free: callers check existence."""
    info = info or os.stat(host_path)
    return DeviceMapping(
        path_on_host=host_path,
        path_in_container=container_path,
        permissions=permissions,
        type="b" if stat.S_ISBLK(info.st_mode) else "c",
        major=os.major(info.st_rdev),
        minor=os.minor(info.st_rdev),
        file_mode=stat.S_IMODE(info.st_mode),
        uid=info.st_uid,
        gid=info.st_gid,
    )
