"""Docker's container stats JSON (``GET /containers/{id}/stats``) from cgroup samples.

The shape is dockerd's ``container.StatsResponse`` as Go's encoding/json writes it: ``omitempty``
drops zero numbers and empty maps, never a nested struct, so ``cpu_stats.cpu_usage`` and
``throttling_data`` are always there while ``memory_stats`` may be ``{}``. The values follow
daemon/stats_unix.go: v1 and v2 hosts give different ``memory_stats.stats`` keys (the docker CLI
tells them apart by ``total_inactive_file``) and v2 has no ``percpu_usage`` or ``max_usage``.

``docker stats`` computes CPU % as ``Δcpu_usage.total_usage / Δsystem_cpu_usage * online_cpus``
between ``precpu_stats`` and ``cpu_stats``, so the caller keeps the previous sample and passes it
back; streaming and timing are the caller's job. ``take_sample`` does the (blocking) reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.runtime.cgroups import (
    CGROUP_PARENT,
    CgroupMounts,
    CgroupStats,
    cgroup_path,
    read_stats,
)
from engine.timefmt import ZERO_TIME, rfc3339_nano

PROC_STAT = Path("/proc/stat")
PROC_MEMINFO = Path("/proc/meminfo")
# dockerd hard-codes USER_HZ: it is 100 on every Linux architecture it supports.
_NS_PER_TICK = 1_000_000_000 // 100

# memory.stat keys dockerd reports, in its order; absent ones read as 0, others are dropped.
_V1_MEMORY_KEYS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout",
    "pgfault", "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file",
    "unevictable", "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_cache",
    "total_rss", "total_rss_huge", "total_mapped_file", "total_dirty", "total_writeback",
    "total_pgpgin", "total_pgpgout", "total_pgfault", "total_pgmajfault", "total_inactive_anon",
    "total_active_anon", "total_inactive_file", "total_active_file", "total_unevictable",
)  # fmt: skip
_V2_MEMORY_KEYS = (
    "anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty",
    "file_writeback", "anon_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
    "unevictable", "slab_reclaimable", "slab_unreclaimable", "pgfault", "pgmajfault",
    "workingset_refault", "workingset_activate", "workingset_nodereclaim", "pgrefill", "pgscan",
    "pgsteal", "pgactivate", "pgdeactivate", "pglazyfree", "pglazyfreed", "thp_fault_alloc",
    "thp_collapse_alloc",
)  # fmt: skip
_BLKIO_KEYS = (
    "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
    "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
    "io_time_recursive", "sectors_recursive",
)  # fmt: skip
# /proc/net/dev columns (after "iface:") that Docker's NetworkStats carries, by position.
_NET_COLUMNS = {
    "rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
    "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11,
}  # fmt: skip


@dataclass(frozen=True)
class StatsSample:
    """One reading of a running container, with the host numbers ``docker stats`` divides by."""

    read: str  # RFC 3339 with nanoseconds, when the sample was taken
    cgroup: CgroupStats
    system_cpu: int  # host CPU time in ns, as /proc/stat's "cpu" line
    online_cpus: int
    machine_memory: int = 0  # MemTotal in bytes; caps the memory limit as dockerd does; 0: no cap
    networks: dict[str, dict[str, int]] | None = None  # interface -> counters; None: unknown


def system_cpu_usage(proc_stat_text: str) -> int:
    """Host CPU time in ns: the first seven fields of /proc/stat's ``cpu`` line, in USER_HZ ticks.

    Raises ValueError on a malformed line or when there is none.
    """
    for line in proc_stat_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            if len(parts) < 8:
                raise ValueError("invalid number of cpu fields")
            return sum(int(value) for value in parts[1:8]) * _NS_PER_TICK
    raise ValueError("invalid format while trying to parse proc stat file")


def count_online_cpus(proc_stat_text: str) -> int:
    """The ``cpuN`` lines of /proc/stat: the CPUs online now (what dockerd reports)."""
    return sum(
        1
        for line in proc_stat_text.splitlines()
        if len(line) > 3 and line.startswith("cpu") and line[3].isdigit()
    )


def online_cpus() -> int:
    try:
        return count_online_cpus(PROC_STAT.read_text()) or (os.cpu_count() or 1)
    except OSError:
        return os.cpu_count() or 1


def machine_memory(meminfo_text: str) -> int:
    """MemTotal of a /proc/meminfo text, in bytes (0 if absent)."""
    for line in meminfo_text.splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            amount, *unit = value.split()
            return int(amount) * (1024 if unit == ["kB"] else 1)
    return 0


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Counters of every interface in a /proc/<pid>/net/dev text except loopback (as libnetwork)."""
    networks: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        values = rest.split()
        name = name.strip()
        if not sep or name == "lo" or len(values) < 16 or not values[0].isdigit():
            continue
        networks[name] = {key: int(values[index]) for key, index in _NET_COLUMNS.items()}
    return networks


def _read_networks(pid: int) -> dict[str, dict[str, int]] | None:
    if pid <= 0:
        return None
    try:
        return parse_net_dev(Path(f"/proc/{pid}/net/dev").read_text())
    except OSError:  # the process is gone
        return None


def take_sample(
    mounts: CgroupMounts, container_id: str, *, pid: int = 0, parent: str = CGROUP_PARENT
) -> StatsSample:
    """Read a container's cgroup and the host's CPU and memory totals (blocking: use an executor).

    ``pid`` is the container's init process on the host; with it the sample includes the
    counters of the container's network namespace.
    """
    read = rfc3339_nano()
    cgroup = read_stats(mounts, cgroup_path(container_id, parent))
    proc_stat = PROC_STAT.read_text()
    try:
        memory = machine_memory(PROC_MEMINFO.read_text())
    except OSError:
        memory = 0
    return StatsSample(
        read=read,
        cgroup=cgroup,
        system_cpu=system_cpu_usage(proc_stat),
        online_cpus=count_online_cpus(proc_stat) or (os.cpu_count() or 1),
        machine_memory=memory,
        networks=_read_networks(pid),
    )


def _omit_zero(mapping: dict[str, Any]) -> dict[str, Any]:
    """Go's ``omitempty`` for numbers and maps."""
    return {key: value for key, value in mapping.items() if value}


def _zero_cpu_stats() -> dict[str, Any]:
    return {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _cpu_stats(sample: StatsSample, cgroup_v2: bool) -> dict[str, Any]:
    cg = sample.cgroup
    usage: dict[str, Any] = {"total_usage": cg.cpu_total_ns or 0}
    if cg.cpu_percpu_ns and not cgroup_v2:
        usage["percpu_usage"] = list(cg.cpu_percpu_ns)
    usage["usage_in_kernelmode"] = cg.cpu_system_ns or 0
    usage["usage_in_usermode"] = cg.cpu_user_ns or 0
    stats: dict[str, Any] = {"cpu_usage": usage}
    stats.update(
        _omit_zero({"system_cpu_usage": sample.system_cpu, "online_cpus": sample.online_cpus})
    )
    stats["throttling_data"] = {
        "periods": cg.cpu_periods or 0,
        "throttled_periods": cg.cpu_throttled_periods or 0,
        "throttled_time": cg.cpu_throttled_ns or 0,
    }
    return stats


def _memory_stats(sample: StatsSample, cgroup_v2: bool) -> dict[str, Any]:
    cg = sample.cgroup
    if cg.memory_usage is None and not cg.memory_stat:
        return {}  # no memory accounting for this cgroup
    limit = cg.memory_limit
    if sample.machine_memory and (limit is None or limit > sample.machine_memory):
        limit = sample.machine_memory  # an unlimited container shows the host's memory
    keys = _V2_MEMORY_KEYS if cgroup_v2 else _V1_MEMORY_KEYS
    return _omit_zero(
        {
            "usage": cg.memory_usage or 0,
            "max_usage": 0 if cgroup_v2 else cg.memory_max_usage or 0,  # dockerd: v1 only
            "stats": {key: cg.memory_stat.get(key, 0) for key in keys},
            "failcnt": cg.memory_failcnt or 0,
            "limit": limit or 0,
        }
    )


def _blkio_stats(cgroup: CgroupStats, cgroup_v2: bool) -> dict[str, Any]:
    def entries(source: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in source]

    if cgroup_v2:  # dockerd fills only the bytes list from io.stat; nil lists encode as null
        blkio: dict[str, Any] = dict.fromkeys(_BLKIO_KEYS)
        blkio["io_service_bytes_recursive"] = entries(cgroup.io_service_bytes) or None
        return blkio
    blkio = {key: [] for key in _BLKIO_KEYS}  # v1: every list present, empty when unaccounted
    blkio["io_service_bytes_recursive"] = entries(cgroup.io_service_bytes)
    blkio["io_serviced_recursive"] = entries(cgroup.io_serviced)
    return blkio


def _envelope(
    name: str, container_id: str, read: str, preread: str, **sections: Any
) -> dict[str, Any]:
    """The fields in dockerd's order; ``sections`` fill in the numbers."""
    body: dict[str, Any] = {
        "read": read,
        "preread": preread,
        "pids_stats": sections.get("pids_stats", {}),
        "blkio_stats": sections.get("blkio_stats", dict.fromkeys(_BLKIO_KEYS)),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": sections.get("cpu_stats", _zero_cpu_stats()),
        "precpu_stats": sections.get("precpu_stats", _zero_cpu_stats()),
        "memory_stats": sections.get("memory_stats", {}),
        "name": name if name.startswith("/") else f"/{name}",
        "id": container_id,
    }
    if sections.get("networks"):
        body["networks"] = sections["networks"]
    return body


def stats_json(
    record_name: str,
    container_id: str,
    current: StatsSample,
    previous: StatsSample | None,
    cgroup_v2: bool | None = None,
) -> dict[str, Any]:
    """One stats object: ``cpu_stats`` from ``current``, ``precpu_stats`` from ``previous``.

    ``cgroup_v2`` defaults to the version the sample was read from.
    """
    v2 = current.cgroup.version == 2 if cgroup_v2 is None else cgroup_v2
    cg = current.cgroup
    return _envelope(
        record_name,
        container_id,
        current.read,
        previous.read if previous else ZERO_TIME,
        pids_stats=_omit_zero({"current": cg.pids_current or 0, "limit": cg.pids_limit or 0}),
        blkio_stats=_blkio_stats(cg, v2),
        cpu_stats=_cpu_stats(current, v2),
        precpu_stats=_cpu_stats(previous, v2) if previous else _zero_cpu_stats(),
        memory_stats=_memory_stats(current, v2),
        networks=current.networks,
    )


def zero_stats_json(name: str, container_id: str) -> dict[str, Any]:
    """What dockerd sends for a container that is not running: only the name and id are set."""
    return _envelope(name, container_id, ZERO_TIME, ZERO_TIME)
