"""cgroup layout detection, the hybrid-layout fix crun needs, and where a container's cgroup is.

Containers live at ``/doca/<container-id>`` (cgroupfs driver; OCI ``linux.cgroupsPath``), or in
the cgroup delegated to a rootless engine.

Hybrid hosts mount v1 controllers under ``/sys/fs/cgroup/<ctrl>`` and cgroup2 at
``/sys/fs/cgroup/unified``. A controller that no v1 hierarchy mounts (here: hugetlb) stays
attached to cgroup2, and crun 1.8 refuses such a host ("cgroups in hybrid mode not supported,
drop all controllers from cgroupv2"); runc does not mind. Mounting a v1 hierarchy for that
controller moves it off cgroup2, after which crun works. ``prepare_cgroups`` does that once at
engine start and picks the runtime. ``read_stats`` gives the raw numbers behind
``docker stats`` from either cgroup version.
"""

from __future__ import annotations

import ctypes
import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.runtime.oci import find_runtime

CGROUP_ROOT = Path("/sys/fs/cgroup")
MOUNTINFO = Path("/proc/self/mountinfo")
#: Parent of every container cgroup (cgroupfs driver).
CGROUP_PARENT = "/doca"

_V1_CORE = ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory")
V1_CONTROLLERS = frozenset((*_V1_CORE, "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma"))


class CgroupLayout(enum.Enum):
    UNIFIED = "v2"  # cgroup2 only
    LEGACY = "v1"  # v1 hierarchies only
    HYBRID = "hybrid"  # v1 hierarchies plus cgroup2 (usually at /sys/fs/cgroup/unified)


@dataclass(frozen=True)
class CgroupMounts:
    """Where each hierarchy is mounted: v1 keys are controllers or ``name=…`` hierarchies."""

    layout: CgroupLayout
    v1: dict[str, Path] = field(default_factory=dict)
    unified: Path | None = None

    def container_dirs(self, cgroup_path: str) -> dict[str, Path]:
        """Directory of ``cgroup_path`` in every hierarchy; ``""`` keys the cgroup2 one."""
        rel = cgroup_path.strip("/")
        dirs = {name: mount / rel for name, mount in self.v1.items()}
        if self.unified is not None:
            dirs[""] = self.unified / rel
        return dirs


def cgroup_path(container_id: str, parent: str = CGROUP_PARENT) -> str:
    """The OCI ``linux.cgroupsPath`` of a container."""
    return f"{parent.rstrip('/')}/{container_id}"


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 …).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo(text: str) -> CgroupMounts:
    """The cgroup hierarchies listed in a ``/proc/<pid>/mountinfo`` text (pure)."""
    v1: dict[str, Path] = {}
    unified: Path | None = None
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        fields_left, fields_right = head.split(), tail.split()
        if len(fields_left) < 5 or len(fields_right) < 3:
            continue
        mount_point = Path(_unescape(fields_left[4]))
        fstype, superopts = fields_right[0], fields_right[2].split(",")
        if fstype == "cgroup2":
            unified = unified or mount_point
        elif fstype == "cgroup":
            for opt in superopts:
                if opt in V1_CONTROLLERS or opt.startswith("name="):
                    v1.setdefault(opt, mount_point)
    if not any(not name.startswith("name=") for name in v1):
        return CgroupMounts(CgroupLayout.UNIFIED, v1, unified)
    return CgroupMounts(CgroupLayout.HYBRID if unified else CgroupLayout.LEGACY, v1, unified)


def read_mounts(mountinfo: Path = MOUNTINFO) -> CgroupMounts:
    return parse_mountinfo(mountinfo.read_text())


def stray_controllers(mounts: CgroupMounts) -> list[str]:
    """Controllers left on cgroup2 on a hybrid host: what makes crun refuse to run."""
    if mounts.layout is not CgroupLayout.HYBRID or mounts.unified is None:
        return []
    return (_read(mounts.unified / "cgroup.controllers") or "").split()


def _mount_v1(controller: str, target: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own C library
    target.mkdir(exist_ok=True)
    rc = libc.mount(b"cgroup", os.fsencode(target), b"cgroup", 0, controller.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount -t cgroup -o {controller}: {os.strerror(err)}", str(target))


@dataclass(frozen=True)
class CgroupSetup:
    """What ``prepare_cgroups`` found and decided."""

    layout: CgroupLayout
    mounts: CgroupMounts
    runtime: str | None  # absolute path of the OCI runtime to use
    mounted: tuple[str, ...] = ()  # controllers we moved to a new v1 hierarchy
    note: str = ""  # why this runtime was chosen, for the engine's log
    parent: str = CGROUP_PARENT  # where containers' cgroups go
    # The controllers containers' limits may use; None: all the host has (a root engine).
    controllers: frozenset[str] | None = None

    def container_path(self, container_id: str) -> str:
        return cgroup_path(container_id, self.parent)


def prepare_cgroups(*, mountinfo: Path = MOUNTINFO, cgroup_root: Path = CGROUP_ROOT) -> CgroupSetup:
    """Make the host usable for crun if it can be, and pick the runtime (call once at start).

    Needs root for the mount; when it fails, or crun is missing, runc is chosen.
    """
    mounts = read_mounts(mountinfo)
    mounted: list[str] = []
    problems: list[str] = []
    for controller in stray_controllers(mounts):
        try:
            _mount_v1(controller, cgroup_root / controller)
            mounted.append(controller)
        except OSError as exc:
            problems.append(f"{controller}: {exc.strerror or exc}")
    mounts = read_mounts(mountinfo) if mounted else mounts
    stray = stray_controllers(mounts)
    crun, runc = find_runtime(["crun"]), find_runtime(["runc"])
    if crun and not stray:
        note = f"crun (moved {', '.join(mounted)} to cgroup v1)" if mounted else "crun"
        return CgroupSetup(mounts.layout, mounts, crun, tuple(mounted), note)
    why = f"cgroup2 still holds {', '.join(stray)} {problems}" if stray else "crun not found"
    return CgroupSetup(mounts.layout, mounts, runc or crun, tuple(mounted), f"runc: {why}")


def remove_cgroup(mounts: CgroupMounts, path: str) -> list[Path]:
    """rmdir a stopped container's cgroup everywhere (after crashes; runtimes clean up on delete).

    Returns the directories that are still there."""
    left: list[Path] = []
    for directory in mounts.container_dirs(path).values():
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            left.append(directory)
    return left


# Stats: raw numbers; the containers service shapes them into Docker's stats JSON.

_V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as a page-rounded 2**63-1


@dataclass(frozen=True)
class BlkioEntry:
    major: int
    minor: int
    op: str  # v1: "Read", "Write", … as the kernel spells them; v2: "read", "write" (as Docker)
    value: int


@dataclass(frozen=True)
class CgroupStats:
    """One sample of a container's cgroup; None where the host does not account it."""

    version: int
    memory_usage: int | None = None
    memory_limit: int | None = None  # None: unlimited
    memory_max_usage: int | None = None
    memory_failcnt: int | None = None
    memory_stat: dict[str, int] = field(default_factory=dict)
    cpu_total_ns: int | None = None
    cpu_user_ns: int | None = None
    cpu_system_ns: int | None = None
    cpu_percpu_ns: tuple[int, ...] = ()
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_ns: int | None = None
    pids_current: int | None = None
    pids_limit: int | None = None  # None: unlimited
    io_service_bytes: tuple[BlkioEntry, ...] = ()
    io_serviced: tuple[BlkioEntry, ...] = ()


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # not accounted on this host (or the cgroup is gone)
        return None


def _int(path: Path) -> int | None:
    text = (_read(path) or "").strip()
    return int(text.split()[0]) if text and text != "max" else None


def _flat(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cpuacct.stat)."""
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _blkio_v1(path: Path) -> tuple[BlkioEntry, ...]:
    entries = []
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            entries.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
    return tuple(entries)


def _io_v2(path: Path) -> tuple[tuple[BlkioEntry, ...], tuple[BlkioEntry, ...]]:
    """io.stat as Docker shows v2 hosts: (bytes, operations), "read"/"write" per device."""
    nbytes: list[BlkioEntry] = []
    nios: list[BlkioEntry] = []
    for line in (_read(path) or "").splitlines():
        device, *pairs = line.split() or [""]
        major, _, minor = device.partition(":")
        values = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        for op in ("read", "write") if minor else ():  # rbytes, wbytes, rios, wios
            key = op[0]
            nbytes.append(BlkioEntry(int(major), int(minor), op, int(values.get(key + "bytes", 0))))
            nios.append(BlkioEntry(int(major), int(minor), op, int(values.get(key + "ios", 0))))
    return tuple(nbytes), tuple(nios)


def read_stats_v1(dirs: dict[str, Path]) -> CgroupStats:
    """Stats from v1 hierarchies (``dirs`` as from ``CgroupMounts.container_dirs``)."""
    none = Path("/nonexistent")  # a missing hierarchy reads as "not accounted"
    mem, acct = dirs.get("memory", none), dirs.get("cpuacct", none)
    limit = _int(mem / "memory.limit_in_bytes")
    ticks = _flat(acct / "cpuacct.stat")
    ns_per_tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    throttle = _flat(dirs.get("cpu", none) / "cpu.stat")
    pids, blkio = dirs.get("pids", none), dirs.get("blkio", none)
    return CgroupStats(
        version=1,
        memory_usage=_int(mem / "memory.usage_in_bytes"),
        memory_limit=None if limit is None or limit >= _V1_UNLIMITED else limit,
        memory_max_usage=_int(mem / "memory.max_usage_in_bytes"),
        memory_failcnt=_int(mem / "memory.failcnt"),
        memory_stat=_flat(mem / "memory.stat"),
        cpu_total_ns=_int(acct / "cpuacct.usage"),
        cpu_user_ns=ticks["user"] * ns_per_tick if "user" in ticks else None,
        cpu_system_ns=ticks["system"] * ns_per_tick if "system" in ticks else None,
        cpu_percpu_ns=tuple(int(v) for v in (_read(acct / "cpuacct.usage_percpu") or "").split()),
        cpu_periods=throttle.get("nr_periods"),
        cpu_throttled_periods=throttle.get("nr_throttled"),
        cpu_throttled_ns=throttle.get("throttled_time"),
        pids_current=_int(pids / "pids.current"),
        pids_limit=_int(pids / "pids.max"),
        io_service_bytes=_blkio_v1(blkio / "blkio.throttle.io_service_bytes_recursive"),
        io_serviced=_blkio_v1(blkio / "blkio.throttle.io_serviced_recursive"),
    )


def read_stats_v2(directory: Path) -> CgroupStats:
    """Stats from a cgroup2 directory."""
    cpu = _flat(directory / "cpu.stat")
    usec = {key: value * 1000 for key, value in cpu.items() if key.endswith("_usec")}
    io_bytes, io_ops = _io_v2(directory / "io.stat")
    return CgroupStats(
        version=2,
        memory_usage=_int(directory / "memory.current"),
        memory_limit=_int(directory / "memory.max"),
        memory_max_usage=_int(directory / "memory.peak"),
        memory_stat=_flat(directory / "memory.stat"),
        cpu_total_ns=usec.get("usage_usec"),
        cpu_user_ns=usec.get("user_usec"),
        cpu_system_ns=usec.get("system_usec"),
        cpu_periods=cpu.get("nr_periods"),
        cpu_throttled_periods=cpu.get("nr_throttled"),
        cpu_throttled_ns=usec.get("throttled_usec"),
        pids_current=_int(directory / "pids.current"),
        pids_limit=_int(directory / "pids.max"),
        io_service_bytes=io_bytes,
        io_serviced=io_ops,
    )


def read_stats(mounts: CgroupMounts, cgroup_path: str) -> CgroupStats:
    """Stats of the cgroup at ``cgroup_path`` (blocking file reads: call from an executor)."""
    dirs = mounts.container_dirs(cgroup_path)
    if mounts.layout is CgroupLayout.UNIFIED:
        return read_stats_v2(dirs[""])
    return read_stats_v1(dirs)
