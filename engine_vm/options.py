"""A VM's settings as the user gives them: CPUs, memory, data disk size, shared folders."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_MEMORY = 256 * MIB
MIN_DISK = 1 * GIB
#: Places inside the VM a shared folder may not cover: the VM's own system and data.
RESERVED = ("/", "/bin", "/dev", "/etc", "/lib", "/proc", "/run", "/sbin", "/sys", "/usr",
            "/var", "/var/lib/doca", "/opt", "/opt/doca", "/tmp")  # fmt: skip

_UNITS = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": GIB, "t": 1024 * GIB}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """A size as the docker CLI reads ``--memory``: a number of bytes, or with a binary unit
    (``512m``, ``2g``, ``20GiB``)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"invalid size: '{text}'")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def format_size(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB)):
        if size >= scale and size % (scale // 4) == 0:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def default_shares() -> tuple[str, ...]:
    return (str(Path.home()),)


@dataclass(frozen=True)
class VMOptions:
    """What the user chooses for one VM."""

    cpus: int = 2
    memory: int = 2 * GIB
    disk: int = 20 * GIB
    shares: tuple[str, ...] = field(default_factory=default_shares)
    transport: str = "auto"  # "vsock", "tcp" (QEMU's port forward on loopback) or "auto"
    accelerator: str = "auto"  # "kvm", "hvf", "whpx", "tcg" or "auto"
    debug: bool = False

    def __post_init__(self) -> None:
        if self.cpus < 1:
            raise ValueError(f"invalid CPU count: {self.cpus}: it must be at least 1")
        if self.memory < MIN_MEMORY:
            raise ValueError(f"memory {format_size(self.memory)} is too small: "
                             f"the VM needs at least {format_size(MIN_MEMORY)}")  # fmt: skip
        if self.disk < MIN_DISK:
            raise ValueError(f"disk {format_size(self.disk)} is too small: "
                             f"the VM needs at least {format_size(MIN_DISK)}")  # fmt: skip
        if self.transport not in ("auto", "vsock", "tcp"):
            raise ValueError(f"unknown transport {self.transport!r}: want vsock, tcp or auto")
        for share in self.shares:
            check_share(share)

    @property
    def memory_mib(self) -> int:
        return self.memory // MIB


def check_share(path: str) -> None:
    """A shared folder must be an absolute host directory that leaves the VM's own system
    alone (it is mounted at the same path inside)."""
    if not os.path.isabs(path):
        raise ValueError(f"shared folder {path!r} is not an absolute path")
    normal = os.path.normpath(path)
    if normal in RESERVED or normal.startswith(("/proc/", "/sys/", "/dev/", "/var/lib/doca/")):
        raise ValueError(f"shared folder {path!r} would cover the VM's own {normal}")
    if not os.path.isdir(path):
        raise ValueError(f"shared folder {path!r} is not a directory")
