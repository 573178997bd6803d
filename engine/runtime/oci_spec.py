"""A container's settings → its OCI runtime spec (config.json), with dockerd's defaults.

Pure: everything that depends on the host (kernel, arch, cgroup version, the init binary, host
devices, device numbers) comes in through :class:`SpecInput`. The defaults follow moby's
``oci.DefaultLinuxSpec`` and the spec options of ``daemon/oci_linux.go``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.runtime import seccomp
from engine.runtime.capabilities import LAST_CAP, container_capabilities, parse_capabilities
from engine.runtime.oci_mounts import Mount, assemble_mounts
from engine.runtime.oci_resources import (
    DeviceMapping,
    Ulimit,
    devices_and_rules,
    resources,
    rlimits,
)
from engine.runtime.sysctls import (
    PRIVATE_NETWORK_DEFAULTS,
    container_sysctls,
    is_network_sysctl,
)
from engine.userns.idmap import IdentityMapping

__all__ = [
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_PATH_ENV",
    "DEFAULT_READONLY_PATHS",
    "INIT_PATH_IN_CONTAINER",
    "DeviceMapping",
    "Mount",
    "SpecInput",
    "Ulimit",
    "build_spec",
    "network_sysctls",
    "parse_capabilities",
    "replace_or_append_env",
]

OCI_VERSION = "1.0.2"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"

#: moby's list; dockerd also masks /sys/devices/system/cpu/cpu*/thermal_throttle where it
#: exists — a caller that wants that passes ``masked_paths`` explicitly.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
#: dockerd's daemon-wide ulimit default as Doca ships it (merged under the container's own).
DEFAULT_ULIMITS: tuple[Ulimit, ...] = (Ulimit("nofile", 1048576, 1048576),)


@dataclass(frozen=True)
class SpecInput:
    """Everything :func:`build_spec` needs; field names follow Docker's HostConfig/Config.

    ``network_ns``: None for a new network namespace, "host" to share the host's, or a path
    (/proc/<pid>/ns/net, /run/netns/<name>) to join. ``ipc``: "private", "shareable", "none",
    "host" or a namespace path; for "host"/"shareable" the caller passes the /dev/shm bind in
    ``mounts``. ``cgroupns``: None is Docker's default (private on cgroup v2, host on v1).
    ``masked_paths``/``readonly_paths``: None means Docker's defaults (none when privileged).
    ``host_devices``: every device of the host, filled in by the caller for privileged
    containers. ``kernel``/``host_arch``: the host's, for the seccomp profile's conditions.
    ``last_cap``/``engine_caps``: the kernel's highest capability and the capabilities the
    engine holds (None: all); privileged containers and ``--cap-add ALL`` get no more.
    ``userns``: the mapping of the container's own user namespace (``--userns-remap``), None
    to run with the host's IDs.
    """

    rootfs: str
    args: Sequence[str]
    env: Sequence[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    hostname: str = ""
    domainname: str = ""
    tty: bool = False
    open_stdin: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    readonly_rootfs: bool = False
    no_new_privileges: bool = False
    seccomp: str | None = "default"  # "default" | "unconfined" | profile JSON (Docker format)
    apparmor: str | None = None
    mounts: tuple[Mount, ...] = ()
    shm_size: int = 64 * 1024 * 1024
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    devices: tuple[DeviceMapping, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()
    host_devices: tuple[DeviceMapping, ...] = ()
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    oom_kill_disable: bool = False
    blkio_weight: int = 0
    ulimits: tuple[Ulimit, ...] = ()
    default_ulimits: tuple[Ulimit, ...] = DEFAULT_ULIMITS
    sysctls: Mapping[str, str] = field(default_factory=dict)
    network_ns: str | None = None
    ipc: str = "private"
    pid_host: bool = False
    uts_host: bool = False
    cgroups_path: str = ""
    cgroupns: bool | None = None
    cgroup_version: str = "2"
    init_path: str | None = None
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    oom_score_adj: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict)
    host_arch: str = "x86_64"
    kernel: tuple[int, int] = (6, 1)
    last_cap: int = LAST_CAP
    engine_caps: tuple[str, ...] | None = None
    userns: IdentityMapping | None = None


def replace_or_append_env(defaults: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """Docker's env merge: ``K=V`` replaces a default or is appended, a bare ``K`` removes one.

    As in dockerd only the defaults are looked up, so an image's duplicate keys stay duplicate.
    """
    env = list(defaults)
    index = {e.partition("=")[0]: i for i, e in enumerate(env)}
    for value in overrides:
        key, sep, _ = value.partition("=")
        if not sep:
            if value in index:
                env[index[value]] = ""
        elif key in index:
            env[index[key]] = value
        else:
            env.append(value)
    return [e for e in env if e]


def _environment(inp: SpecInput) -> list[str]:
    defaults = [DEFAULT_PATH_ENV, f"HOSTNAME={inp.hostname}"]
    if inp.tty:
        defaults.append("TERM=xterm")
    return replace_or_append_env(defaults, inp.env)


def _namespaces(inp: SpecInput) -> list[dict[str, str]]:
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if inp.userns is not None:
        namespaces.append({"type": "user"})
    if inp.network_ns is None:
        namespaces.append({"type": "network"})
    elif inp.network_ns != "host":
        namespaces.append({"type": "network", "path": inp.network_ns})
    if not inp.uts_host:
        namespaces.append({"type": "uts"})
    if not inp.pid_host:
        namespaces.append({"type": "pid"})
    if inp.ipc.startswith("/"):
        namespaces.append({"type": "ipc", "path": inp.ipc})
    elif inp.ipc != "host":
        namespaces.append({"type": "ipc"})
    private_cgroupns = inp.cgroup_version == "2" if inp.cgroupns is None else inp.cgroupns
    if private_cgroupns:
        namespaces.append({"type": "cgroup"})
    return namespaces


def _seccomp(inp: SpecInput, bounding: Sequence[str]) -> dict[str, Any] | None:
    if inp.seccomp in (None, "", "unconfined"):
        return None
    if inp.seccomp == "default":
        if inp.privileged:
            return None  # dockerd only applies an explicitly given profile when privileged
        profile = seccomp.default_profile()
    else:
        profile = seccomp.load_profile(inp.seccomp)
    return seccomp.to_oci(
        profile, capabilities=bounding, host_arch=inp.host_arch, kernel=inp.kernel
    )


def _network_set_by_engine(inp: SpecInput) -> bool:
    """A container in a user namespace joining a network namespace the engine made: the
    runtime, inside the user namespace, may not write that namespace's sysctls (it belongs
    to the host's user namespace), so the engine writes them (:func:`network_sysctls`)."""
    return inp.userns is not None and inp.network_ns not in (None, "host")


def network_sysctls(inp: SpecInput, own_network: bool) -> dict[str, str]:
    """The sysctls the engine writes into the network namespace of a container in a user
    namespace before it starts: the user's, after dockerd's defaults when the namespace is
    the container's own (not another container's). Empty when the runtime writes them."""
    if not _network_set_by_engine(inp):
        return {}
    values = dict(PRIVATE_NETWORK_DEFAULTS) if own_network else {}
    values.update((k, v) for k, v in inp.sysctls.items() if is_network_sysctl(k))
    return values


def build_spec(inp: SpecInput) -> dict[str, Any]:
    """The OCI runtime spec (config.json contents) for a container."""
    caps = container_capabilities(
        inp.cap_add,
        inp.cap_drop,
        privileged=inp.privileged,
        last_cap=inp.last_cap,
        held=inp.engine_caps,
    )
    args = list(inp.args)
    init_mounts: list[Mount] = []
    if inp.init_path and not inp.pid_host:
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
        init_mounts.append(Mount(INIT_PATH_IN_CONTAINER, "bind", inp.init_path, ("bind", "ro")))

    process: dict[str, Any] = {
        "terminal": inp.tty,
        "user": {
            "uid": inp.uid,
            "gid": inp.gid,
            # dockerd lists the primary group first, then the supplementary ones.
            "additionalGids": list(dict.fromkeys((inp.gid, *inp.additional_gids))),
        },
        "args": args,
        "env": _environment(inp),
        "cwd": inp.cwd or "/",
        "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
        "rlimits": rlimits(inp.ulimits, inp.default_ulimits),
        "oomScoreAdj": inp.oom_score_adj,
    }
    if inp.tty and inp.console_size and any(inp.console_size):
        process["consoleSize"] = {"height": inp.console_size[0], "width": inp.console_size[1]}
    if inp.no_new_privileges:
        process["noNewPrivileges"] = True
    if inp.apparmor:
        process["apparmorProfile"] = inp.apparmor

    root: dict[str, Any] = {"path": inp.rootfs}
    if inp.readonly_rootfs:
        root["readonly"] = True

    devices, device_rules = devices_and_rules(
        inp.devices, inp.device_cgroup_rules, inp.host_devices, privileged=inp.privileged
    )
    linux: dict[str, Any] = {
        "resources": resources(inp, device_rules),
        "namespaces": _namespaces(inp),
    }
    if inp.userns is not None:
        linux["uidMappings"], linux["gidMappings"] = inp.userns.oci()
    if devices:
        linux["devices"] = devices
    if inp.cgroups_path:
        linux["cgroupsPath"] = inp.cgroups_path
    sysctl = container_sysctls(
        inp.sysctls,
        domainname=inp.domainname,
        network_ns=inp.network_ns,
        ipc=inp.ipc,
        uts_host=inp.uts_host,
        userns=inp.userns is not None,
    )
    if _network_set_by_engine(inp):
        sysctl = {k: v for k, v in sysctl.items() if not is_network_sysctl(k)}
    if sysctl:
        linux["sysctl"] = sysctl
    masked, readonly = inp.masked_paths, inp.readonly_paths
    if masked is None:
        masked = () if inp.privileged else DEFAULT_MASKED_PATHS
    if readonly is None:
        readonly = () if inp.privileged else DEFAULT_READONLY_PATHS
    if masked:
        linux["maskedPaths"] = list(masked)
    if readonly:
        linux["readonlyPaths"] = list(readonly)
    profile = _seccomp(inp, caps)
    if profile is not None:
        linux["seccomp"] = profile

    spec: dict[str, Any] = {"ociVersion": OCI_VERSION, "process": process, "root": root}
    if inp.hostname and not inp.uts_host:
        spec["hostname"] = inp.hostname
    spec["mounts"] = assemble_mounts(
        user_mounts=inp.mounts,
        tmpfs=inp.tmpfs,
        extra_defaults=init_mounts,
        shm_size=inp.shm_size,
        ipc_none=inp.ipc == "none",
        readonly_rootfs=inp.readonly_rootfs,
        privileged=inp.privileged,
        userns=inp.userns is not None,
    )
    spec["linux"] = linux
    if inp.annotations:
        spec["annotations"] = dict(inp.annotations)
    return spec
