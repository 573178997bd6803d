"""What a rootless engine without a cgroup of its own cannot do, said as dockerd says it.

Without a delegated cgroup v2 subtree (systemd's ``Delegate=yes`` on the user's service), an
unprivileged user cannot create cgroups at all; on cgroup v1 there is never one. The runtime
then runs containers with no cgroup (crun's ``--cgroup-manager=disabled``), so resource limits
cannot be applied: ``docker info`` says so, and a create that asks for one gets a warning and
the limit is dropped from the container's configuration, as dockerd's
verifyPlatformContainerResources drops what the host lacks. Never a limit that only looks set.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from engine.errors import InvalidParameter

#: The runtime's global flags in rootless mode (crun only).
RUNTIME_OPTIONS = ("--cgroup-manager=disabled",)
CGROUP_DRIVER = "none"
SECURITY_OPTION = "name=rootless"

_NO_CGROUPS_V1 = (
    "WARNING: Running in rootless-mode without cgroups. To enable cgroups in rootless-mode, "
    "you need to boot the system in cgroup v2 mode."
)
_NO_CGROUPS_V2 = (
    "WARNING: Running in rootless-mode without cgroups. Systemd is required to enable cgroups "
    "in rootless-mode."
)

# HostConfig keys dockerd discards when the host has no cgroup for them, with its words; the
# value each is reset to, so inspect shows what the container really has.
_DISCARDED: tuple[tuple[str, Any, str], ...] = (
    ("Memory", 0, "Your kernel does not support memory limit capabilities or the cgroup is "
     "not mounted. Limitation discarded."),
    ("MemoryReservation", 0, "Your kernel does not support memory soft limit capabilities or "
     "the cgroup is not mounted. Limitation discarded."),
    ("MemorySwap", 0, "Your kernel does not support swap limit capabilities or the cgroup is "
     "not mounted. Memory limited without swap."),
    ("MemorySwappiness", None, "Your kernel does not support memory swappiness capabilities "
     "or the cgroup is not mounted. Memory swappiness discarded."),
    ("OomKillDisable", False, "Your kernel does not support OomKillDisable. OomKillDisable "
     "discarded."),
    ("PidsLimit", None, "Your kernel does not support PIDs limit capabilities or the cgroup is "
     "not mounted. PIDs limit discarded."),
    ("CpuShares", 0, "Your kernel does not support CPU shares or the cgroup is not mounted. "
     "Shares discarded."),
    ("CpuPeriod", 0, "Your kernel does not support CPU CFS scheduler. CPU period discarded."),
    ("CpuQuota", 0, "Your kernel does not support CPU CFS scheduler. CPU quota discarded."),
    ("CpusetCpus", "", "Your kernel does not support cpuset or the cgroup is not mounted. "
     "Cpuset discarded."),
    ("CpusetMems", "", "Your kernel does not support cpuset or the cgroup is not mounted. "
     "Cpuset discarded."),
    ("BlkioWeight", 0, "Your kernel does not support Block I/O weight or the cgroup is not "
     "mounted. Weight discarded."),
)  # fmt: skip


def _asks(value: Any) -> bool:
    """Whether a HostConfig value asks for a limit (0, -1 for swap, empty and null do not)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    return bool(value)


def discard_resource_limits(host_config: MutableMapping[str, Any]) -> list[str]:
    """Drop the limits a container without a cgroup cannot have from ``host_config`` and
    return dockerd's warning for each (pure, apart from the mapping it is given)."""
    if _asks(host_config.get("NanoCpus")):
        raise InvalidParameter(
            "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the "
            "cgroup is not mounted"
        )
    warnings: list[str] = []
    for key, reset, message in _DISCARDED:
        if _asks(host_config.get(key)):
            host_config[key] = reset
            if message not in warnings:
                warnings.append(message)
    return warnings


def rootless_info(info: MutableMapping[str, Any]) -> None:
    """``/info`` of a rootless engine without cgroups, as rootless dockerd fills it."""
    for key in (
        "MemoryLimit",
        "SwapLimit",
        "CpuCfsPeriod",
        "CpuCfsQuota",
        "CPUShares",
        "CPUSet",
        "PidsLimit",
        "OomKillDisable",
    ):
        info[key] = False
    info["CgroupDriver"] = CGROUP_DRIVER
    options = list(info.get("SecurityOptions") or [])
    if SECURITY_OPTION not in options:
        # dockerd's fillSecurityOptions lists it last but for cgroupns.
        at = next((i for i, o in enumerate(options) if o == "name=cgroupns"), None)
        options.insert(len(options) if at is None else at, SECURITY_OPTION)
    info["SecurityOptions"] = options
    warning = _NO_CGROUPS_V2 if info.get("CgroupVersion") == "2" else _NO_CGROUPS_V1
    info["Warnings"] = [*(info.get("Warnings") or []), warning]
