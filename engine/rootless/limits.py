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

#: The runtime's global flags in rootless mode (crun only), without and with a delegated cgroup.
RUNTIME_OPTIONS = ("--cgroup-manager=disabled",)
DELEGATED_RUNTIME_OPTIONS = ("--cgroup-manager=cgroupfs",)
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

# HostConfig keys dockerd discards when the host has no cgroup for them, with the controller
# each needs (None: never on cgroup v2, as dockerd says there too), the value it is reset to, so
# inspect shows what the container really has, and dockerd's words.
_DISCARDED: tuple[tuple[str, str | None, Any, str], ...] = (
    ("Memory", "memory", 0,
     "Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
     "Limitation discarded."),
    ("MemoryReservation", "memory", 0,
     "Your kernel does not support memory soft limit capabilities or the cgroup is not "
     "mounted. Limitation discarded."),
    ("MemorySwap", "memory", 0,
     "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
     "Memory limited without swap."),
    ("MemorySwappiness", None, None,
     "Your kernel does not support memory swappiness capabilities or the cgroup is not "
     "mounted. Memory swappiness discarded."),
    ("OomKillDisable", None, False,
     "Your kernel does not support OomKillDisable. OomKillDisable discarded."),
    ("PidsLimit", "pids", None,
     "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs "
     "limit discarded."),
    ("CpuShares", "cpu", 0,
     "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."),
    ("CpuPeriod", "cpu", 0,
     "Your kernel does not support CPU CFS scheduler. CPU period discarded."),
    ("CpuQuota", "cpu", 0,
     "Your kernel does not support CPU CFS scheduler. CPU quota discarded."),
    ("CpusetCpus", "cpuset", "",
     "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."),
    ("CpusetMems", "cpuset", "",
     "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."),
    ("BlkioWeight", "io", 0,
     "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight "
     "discarded."),
)  # fmt: skip


def _asks(value: Any) -> bool:
    """Whether a HostConfig value asks for a limit (0, -1 for swap, empty and null do not)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    return bool(value)


def discard_resource_limits(
    host_config: MutableMapping[str, Any], controllers: frozenset[str] = frozenset()
) -> list[str]:
    """Drop the limits that ``controllers`` (none without a delegated cgroup) cannot enforce
    from ``host_config`` and return dockerd's warning for each (pure, apart from the mapping
    it is given)."""
    if _asks(host_config.get("NanoCpus")) and "cpu" not in controllers:
        raise InvalidParameter(
            "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the "
            "cgroup is not mounted"
        )
    warnings: list[str] = []
    for key, controller, reset, message in _DISCARDED:
        if _asks(host_config.get(key)) and controller not in controllers:
            host_config[key] = reset
            if message not in warnings:
                warnings.append(message)
    return warnings


def rootless_info(
    info: MutableMapping[str, Any], controllers: frozenset[str] = frozenset()
) -> None:
    """``/info`` of a rootless engine, as rootless dockerd fills it: the limits its delegated
    cgroup's ``controllers`` enforce (none without one)."""
    flags = {
        "MemoryLimit": "memory",
        "SwapLimit": "memory",
        "CpuCfsPeriod": "cpu",
        "CpuCfsQuota": "cpu",
        "CPUShares": "cpu",
        "CPUSet": "cpuset",
        "PidsLimit": "pids",
        "OomKillDisable": None,
    }
    for key, controller in flags.items():
        info[key] = controller in controllers
    info["CgroupDriver"] = "cgroupfs" if controllers else CGROUP_DRIVER
    # Its containers stop with it (they live in its namespaces).
    info["LiveRestoreEnabled"] = False
    options = list(info.get("SecurityOptions") or [])
    if SECURITY_OPTION not in options:
        # dockerd's fillSecurityOptions lists it last but for cgroupns.
        at = next((i for i, o in enumerate(options) if o == "name=cgroupns"), None)
        options.insert(len(options) if at is None else at, SECURITY_OPTION)
    info["SecurityOptions"] = options
    if not controllers:
        warning = _NO_CGROUPS_V2 if info.get("CgroupVersion") == "2" else _NO_CGROUPS_V1
        info["Warnings"] = [*(info.get("Warnings") or []), warning]
