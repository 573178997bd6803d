"""``HostConfig`` as dockerd's inspect shows it: every field of moby's HostConfig struct (v28) in
its order, Go's zero value where the client sent nothing (null for a nil slice, map or pointer),
``omitempty`` fields left out when empty, and the defaults dockerd fills in at create
(api/server/router/container postContainersCreate, daemon/create.go containerCreate,
daemon_unix.go adaptContainerSettings and verifyPlatformContainerSettings,
create_unix.go createContainerOSSpecificSettings). Pure: the host's facts come in as arguments.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from engine.networks.model import DEFAULT_BRIDGE

DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # dockerd's /dev/shm size when ShmSize is 0

# The Go kinds of the fields; a nil slice, map or pointer is JSON null.
_STR, _BOOL, _INT, _NIL = "string", "bool", "integer", "nil"
_ZERO: dict[str, Any] = {_STR: "", _BOOL: False, _INT: 0, _NIL: None}

#: (field, Go kind, omitempty) in the order moby's HostConfig declares them; the embedded
#: Resources struct sits between Isolation and Mounts.
_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("Binds", _NIL, False),
    ("ContainerIDFile", _STR, False),
    ("LogConfig", _NIL, False),
    ("NetworkMode", _STR, False),
    ("PortBindings", _NIL, False),
    ("RestartPolicy", _NIL, False),
    ("AutoRemove", _BOOL, False),
    ("VolumeDriver", _STR, False),
    ("VolumesFrom", _NIL, False),
    ("ConsoleSize", _NIL, False),
    ("Annotations", _NIL, True),
    ("CapAdd", _NIL, False),
    ("CapDrop", _NIL, False),
    ("CgroupnsMode", _STR, False),
    ("Dns", _NIL, False),
    ("DnsOptions", _NIL, False),
    ("DnsSearch", _NIL, False),
    ("ExtraHosts", _NIL, False),
    ("GroupAdd", _NIL, False),
    ("IpcMode", _STR, False),
    ("Cgroup", _STR, False),
    ("Links", _NIL, False),
    ("OomScoreAdj", _INT, False),
    ("PidMode", _STR, False),
    ("Privileged", _BOOL, False),
    ("PublishAllPorts", _BOOL, False),
    ("ReadonlyRootfs", _BOOL, False),
    ("SecurityOpt", _NIL, False),
    ("StorageOpt", _NIL, True),
    ("Tmpfs", _NIL, True),
    ("UTSMode", _STR, False),
    ("UsernsMode", _STR, False),
    ("ShmSize", _INT, False),
    ("Sysctls", _NIL, True),
    ("Runtime", _STR, True),
    ("Isolation", _STR, False),
    # Resources
    ("CpuShares", _INT, False),
    ("Memory", _INT, False),
    ("NanoCpus", _INT, False),
    ("CgroupParent", _STR, False),
    ("BlkioWeight", _INT, False),
    ("BlkioWeightDevice", _NIL, False),
    ("BlkioDeviceReadBps", _NIL, False),
    ("BlkioDeviceWriteBps", _NIL, False),
    ("BlkioDeviceReadIOps", _NIL, False),
    ("BlkioDeviceWriteIOps", _NIL, False),
    ("CpuPeriod", _INT, False),
    ("CpuQuota", _INT, False),
    ("CpuRealtimePeriod", _INT, False),
    ("CpuRealtimeRuntime", _INT, False),
    ("CpusetCpus", _STR, False),
    ("CpusetMems", _STR, False),
    ("Devices", _NIL, False),
    ("DeviceCgroupRules", _NIL, False),
    ("DeviceRequests", _NIL, False),
    ("KernelMemory", _INT, True),
    ("KernelMemoryTCP", _INT, True),
    ("MemoryReservation", _INT, False),
    ("MemorySwap", _INT, False),
    ("MemorySwappiness", _NIL, False),
    ("OomKillDisable", _NIL, False),
    ("PidsLimit", _NIL, False),
    ("Ulimits", _NIL, False),
    ("CpuCount", _INT, False),
    ("CpuPercent", _INT, False),
    ("IOMaximumIOps", _INT, False),
    ("IOMaximumBandwidth", _INT, False),
    # end of Resources
    ("Mounts", _NIL, True),
    ("MaskedPaths", _NIL, False),
    ("ReadonlyPaths", _NIL, False),
    ("Init", _NIL, True),
)

FIELD_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _FIELDS)

#: moby's oci.DefaultSpec masked paths, in its order (oci/defaults.go).
MOBY_MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
MOBY_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def default_masked_paths(cpu_root: Path = Path("/sys/devices/system/cpu")) -> list[str]:
    """moby's list plus each CPU's thermal_throttle directory the host has (GHSA-6fw5-f8r9)."""
    return [*MOBY_MASKED_PATHS, *_throttles(cpu_root)]


@functools.cache
def _throttles(cpu_root: Path) -> tuple[str, ...]:
    # Read once: the host's CPUs do not come and go under a running engine, and every
    # inspect and start asks.
    found = sorted(
        cpu_root.glob("cpu[0-9]*/thermal_throttle"),
        key=lambda p: int(p.parent.name[3:]) if p.parent.name[3:].isdigit() else -1,
    )
    return tuple(str(path) for path in found)


def _typed(value: Any, kind: str) -> Any:
    """The client's value where it has the field's JSON type, else the zero value (Go
    rejects a wrong type at create; a record made before that check still shows sanely)."""
    if kind == _STR:
        fits = isinstance(value, str)
    elif kind == _BOOL:
        fits = isinstance(value, bool)
    elif kind == _INT:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = True
    return value if fits and value is not None else _ZERO[kind]


def _empty(value: Any) -> bool:
    """What ``omitempty`` leaves out; a pointer to false (``Init``) is not empty."""
    if isinstance(value, bool):
        return False
    return value is None or value in ("", 0) or value == [] or value == {}


def _restart_policy(value: Any) -> dict[str, Any]:
    policy = value if isinstance(value, dict) else {}
    return {
        # containerCreate: an unnamed policy is "no"
        "Name": policy.get("Name") or "no",
        "MaximumRetryCount": _typed(policy.get("MaximumRetryCount"), _INT),
    }


def _log_config(value: Any) -> dict[str, Any]:
    # conmon keeps the log (k8s-file format); it is read back with every feature of Docker's
    # json-file driver, and clients such as docker-py only return output for that name.
    config = value if isinstance(value, dict) else {}
    kind = config.get("Type") or "json-file"
    return {"Type": kind, "Config": config.get("Config") or {}}


def _console_size(value: Any) -> list[int]:
    size = value if isinstance(value, list) else []
    padded = [*size[:2], 0, 0][:2]  # a Go [2]uint
    return [v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in padded]


def _security_opt(host: dict[str, Any], given: Any) -> Any:
    # generateSecurityOpt: without an SELinux label of the client's, sharing the host's IPC
    # or PID namespace, or running privileged, disables labelling.
    options = list(given) if isinstance(given, list) else None
    if any(str(o).partition("=")[0] == "label" for o in options or []):
        return options
    if host.get("IpcMode") == "host" or host.get("PidMode") == "host" or host.get("Privileged"):
        return [*(options or []), "label=disable"]
    return options


def host_config_view(
    host: dict[str, Any],
    *,
    cgroup_version: str,
    runtime: str,
    masked_paths: list[str] | None = None,
) -> dict[str, Any]:
    """The HostConfig inspect shows for what a container was created with (``host``).

    ``cgroup_version`` picks the cgroup namespace default ("private" on v2, else "host"),
    ``runtime`` names the engine's default runtime, ``masked_paths`` overrides the host's
    default list (tests)."""
    given = {name: _typed(host.get(name), kind) for name, kind, _ in _FIELDS}
    mode = given["NetworkMode"]
    filled = {
        **given,
        "LogConfig": _log_config(host.get("LogConfig")),
        # postContainersCreate turns the OS-independent "default" into the bridge.
        "NetworkMode": DEFAULT_BRIDGE if mode in ("", "default") else mode,
        "RestartPolicy": _restart_policy(host.get("RestartPolicy")),
        "ConsoleSize": _console_size(host.get("ConsoleSize")),
        "CapAdd": _str_slice(given["CapAdd"]),
        "CapDrop": _str_slice(given["CapDrop"]),
        "CgroupnsMode": given["CgroupnsMode"] or ("private" if cgroup_version == "2" else "host"),
        "IpcMode": given["IpcMode"] or "private",
        "Links": None,  # links live in dockerd's link index, not in the container's settings
        "SecurityOpt": _security_opt(host, given["SecurityOpt"]),
        "ShmSize": given["ShmSize"] or DEFAULT_SHM_SIZE,
        "Runtime": given["Runtime"] or runtime,
        "OomKillDisable": bool(given["OomKillDisable"]),
        "PidsLimit": _pids_limit(given["PidsLimit"]),
        # fixMemorySwappiness: -1, the docker CLI's "not set", is kept as unset.
        "MemorySwappiness": None if given["MemorySwappiness"] == -1 else given["MemorySwappiness"],
    }
    if not given["Privileged"]:
        if filled["MaskedPaths"] is None:
            defaults = masked_paths if masked_paths is not None else default_masked_paths()
            filled["MaskedPaths"] = list(defaults)
        if filled["ReadonlyPaths"] is None:
            filled["ReadonlyPaths"] = list(MOBY_READONLY_PATHS)
    return {
        name: filled[name]
        for name, _, omitempty in _FIELDS
        if not (omitempty and _empty(filled[name]))
    }


def _str_slice(value: Any) -> Any:
    return [value] if isinstance(value, str) else value  # a strslice.StrSlice takes a string


def _pids_limit(value: Any) -> int | None:
    # postContainersCreate: 0 and negative values mean unlimited, kept as unset.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
