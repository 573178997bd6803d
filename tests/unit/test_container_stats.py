"""engine.containers.stats: Docker's stats JSON from cgroup samples (pure parts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from engine.containers.stats import (
    StatsSample,
    count_online_cpus,
    machine_memory,
    parse_net_dev,
    stats_json,
    system_cpu_usage,
    take_sample,
    zero_stats_json,
)
from engine.runtime.cgroups import BlkioEntry, CgroupLayout, CgroupMounts, CgroupStats
from engine.timefmt import ZERO_TIME

ID = "4f9d" * 16
GiB = 1 << 30

PROC_STAT = """\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335270 26546 451014 13463522 4221 0 4212 0 18962 0
cpu2 1284016 22498 455404 13483262 2983 0 1532 0 19327 0
cpu3 1263345 20890 453186 13485440 2994 0 1576 0 19362 0
intr 1462898 22 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0
ctxt 2282045
btime 1700000000
"""

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0
  eth0:   11218      94    1    2    0     0          0         0     2130      21    3    4    0     0       0          0
"""  # noqa: E501


def v1_stats(total: int = 5_000_000_000, **changes: Any) -> CgroupStats:
    memory_stat = {
        "cache": 40_960_000,
        "rss": 10_240_000,
        "shmem": 4096,  # not among the keys dockerd reports
        "inactive_file": 20_000_000,
        "total_cache": 40_960_000,
        "total_rss": 10_240_000,
        "total_inactive_file": 30_000_000,
        "hierarchical_memory_limit": 9223372036854771712,
    }
    values: dict[str, Any] = {
        "version": 1,
        "memory_usage": 60_000_000,
        "memory_limit": None,
        "memory_max_usage": 70_000_000,
        "memory_failcnt": 3,
        "memory_stat": memory_stat,
        "cpu_total_ns": total,
        "cpu_user_ns": 3_000_000_000,
        "cpu_system_ns": 1_500_000_000,
        "cpu_percpu_ns": (2_000_000_000, 3_000_000_000),
        "cpu_periods": 10,
        "cpu_throttled_periods": 2,
        "cpu_throttled_ns": 123_000,
        "pids_current": 4,
        "pids_limit": None,
        "io_service_bytes": (
            BlkioEntry(8, 0, "Read", 4096),
            BlkioEntry(8, 0, "Write", 8192),
            BlkioEntry(8, 0, "Total", 12288),
        ),
        "io_serviced": (BlkioEntry(8, 0, "Read", 1), BlkioEntry(8, 0, "Write", 2)),
    }
    values.update(changes)
    return CgroupStats(**values)


def v2_stats(total: int = 5_000_000_000, **changes: Any) -> CgroupStats:
    values: dict[str, Any] = {
        "version": 2,
        "memory_usage": 50_000_000,
        "memory_limit": 512 * 1024 * 1024,
        "memory_max_usage": 55_000_000,  # memory.peak: dockerd does not report it
        "memory_stat": {"anon": 30_000_000, "file": 20_000_000, "inactive_file": 15_000_000},
        "cpu_total_ns": total,
        "cpu_user_ns": 4_000_000_000,
        "cpu_system_ns": 1_000_000_000,
        "cpu_periods": 0,
        "cpu_throttled_periods": 0,
        "cpu_throttled_ns": 0,
        "pids_current": 3,
        "pids_limit": 100,
        "io_service_bytes": (BlkioEntry(259, 0, "read", 1024), BlkioEntry(259, 0, "write", 0)),
        "io_serviced": (BlkioEntry(259, 0, "read", 3), BlkioEntry(259, 0, "write", 0)),
    }
    values.update(changes)
    return CgroupStats(**values)


def sample(cgroup: CgroupStats, system: int, read: str, **changes: Any) -> StatsSample:
    values: dict[str, Any] = {
        "read": read,
        "cgroup": cgroup,
        "system_cpu": system,
        "online_cpus": 4,
        "machine_memory": 8 * GiB,
    }
    values.update(changes)
    return StatsSample(**values)


def cli_cpu_percent(body: dict[str, Any]) -> float:
    """The docker CLI's calculateCPUPercentUnix."""
    cpu, pre = body["cpu_stats"], body["precpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage", []))
    return cpu_delta / system_delta * cpus * 100 if cpu_delta > 0 and system_delta > 0 else 0.0


def cli_memory_usage(memory: dict[str, Any]) -> int:
    """The docker CLI's calculateMemUsageUnixNoCache: which key it subtracts tells v1 from v2."""
    stats, usage = memory.get("stats", {}), memory.get("usage", 0)
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
        return int(usage - stats["total_inactive_file"])
    if stats.get("inactive_file", 0) < usage:
        return int(usage - stats.get("inactive_file", 0))
    return int(usage)


# /proc/stat


def test_system_cpu_usage_sums_the_first_seven_fields_in_ns() -> None:
    ticks = 10132153 + 290696 + 3084719 + 46828483 + 16683 + 0 + 25195  # steal, guest: no
    assert system_cpu_usage(PROC_STAT) == ticks * 10_000_000


def test_system_cpu_usage_rejects_a_short_or_missing_cpu_line() -> None:
    with pytest.raises(ValueError, match="invalid number of cpu fields"):
        system_cpu_usage("cpu  1 2 3\n")
    with pytest.raises(ValueError):
        system_cpu_usage("intr 1 2\nctxt 5\n")


def test_online_cpus_counts_the_per_cpu_lines() -> None:
    assert count_online_cpus(PROC_STAT) == 4
    assert count_online_cpus("cpu  1 2 3 4 5 6 7\n") == 0


def test_machine_memory_reads_memtotal_in_bytes() -> None:
    assert machine_memory("MemTotal:       16318496 kB\nMemFree: 1 kB\n") == 16318496 * 1024
    assert machine_memory("MemFree: 1 kB\n") == 0


def test_net_dev_skips_loopback_and_maps_docker_fields() -> None:
    assert parse_net_dev(NET_DEV) == {
        "eth0": {
            "rx_bytes": 11218,
            "rx_packets": 94,
            "rx_errors": 1,
            "rx_dropped": 2,
            "tx_bytes": 2130,
            "tx_packets": 21,
            "tx_errors": 3,
            "tx_dropped": 4,
        }
    }


# The shape


def test_v1_body_has_dockerd_fields_in_order() -> None:
    body = stats_json("/web", ID, sample(v1_stats(), 10**12, "2024-05-01T10:00:01.5Z"), None)
    assert list(body) == [
        "read",
        "preread",
        "pids_stats",
        "blkio_stats",
        "num_procs",
        "storage_stats",
        "cpu_stats",
        "precpu_stats",
        "memory_stats",
        "name",
        "id",
    ]
    assert body["read"] == "2024-05-01T10:00:01.5Z"
    assert body["preread"] == ZERO_TIME
    assert body["name"] == "/web"
    assert body["id"] == ID
    assert body["num_procs"] == 0
    assert body["storage_stats"] == {}
    assert "networks" not in body


def test_name_gets_its_leading_slash() -> None:
    body = stats_json("web", ID, sample(v1_stats(), 1, "2024-05-01T10:00:01Z"), None)
    assert body["name"] == "/web"


def test_v1_cpu_stats() -> None:
    body = stats_json("/web", ID, sample(v1_stats(), 10**12, "2024-05-01T10:00:01Z"), None)
    assert body["cpu_stats"] == {
        "cpu_usage": {
            "total_usage": 5_000_000_000,
            "percpu_usage": [2_000_000_000, 3_000_000_000],
            "usage_in_kernelmode": 1_500_000_000,
            "usage_in_usermode": 3_000_000_000,
        },
        "system_cpu_usage": 10**12,
        "online_cpus": 4,
        "throttling_data": {"periods": 10, "throttled_periods": 2, "throttled_time": 123_000},
    }


def test_v2_cpu_stats_have_no_percpu_usage() -> None:
    body = stats_json("/web", ID, sample(v2_stats(), 10**12, "2024-05-01T10:00:01Z"), None)
    assert body["cpu_stats"]["cpu_usage"] == {
        "total_usage": 5_000_000_000,
        "usage_in_kernelmode": 1_000_000_000,
        "usage_in_usermode": 4_000_000_000,
    }
    assert body["cpu_stats"]["throttling_data"] == {
        "periods": 0,
        "throttled_periods": 0,
        "throttled_time": 0,
    }


def test_cgroup_v2_flag_overrides_the_sample_version() -> None:
    current = sample(v1_stats(), 1, "2024-05-01T10:00:01Z")
    body = stats_json("/web", ID, current, None, cgroup_v2=True)
    assert "percpu_usage" not in body["cpu_stats"]["cpu_usage"]
    assert "total_inactive_file" not in body["memory_stats"]["stats"]


# CPU deltas: cpu_stats is this sample, precpu_stats the one before


def test_first_sample_has_zero_precpu_stats() -> None:
    body = stats_json("/web", ID, sample(v2_stats(), 10**12, "2024-05-01T10:00:01Z"), None)
    assert body["precpu_stats"] == {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


@pytest.mark.parametrize("stats", [v1_stats, v2_stats])
def test_precpu_stats_come_from_the_previous_sample(stats: Any) -> None:
    previous = sample(stats(total=5_000_000_000), 1_000_000_000_000, "2024-05-01T10:00:01Z")
    # one second later on 4 CPUs the host spent 4 s; the container 0.5 s of them
    current = sample(stats(total=5_500_000_000), 1_004_000_000_000, "2024-05-01T10:00:02Z")
    body = stats_json("/web", ID, current, previous)
    assert body["preread"] == "2024-05-01T10:00:01Z"
    assert body["read"] == "2024-05-01T10:00:02Z"
    assert body["precpu_stats"]["cpu_usage"]["total_usage"] == 5_000_000_000
    assert body["precpu_stats"]["system_cpu_usage"] == 1_000_000_000_000
    assert body["precpu_stats"]["online_cpus"] == 4
    assert body["cpu_stats"]["cpu_usage"]["total_usage"] == 5_500_000_000
    assert cli_cpu_percent(body) == pytest.approx(50.0)  # half of one CPU


# Memory


def test_v1_memory_stats() -> None:
    body = stats_json("/web", ID, sample(v1_stats(), 1, "2024-05-01T10:00:01Z"), None)
    memory = body["memory_stats"]
    assert memory["usage"] == 60_000_000
    assert memory["max_usage"] == 70_000_000
    assert memory["failcnt"] == 3
    assert memory["limit"] == 8 * GiB  # unlimited: the machine's memory
    stats = memory["stats"]
    assert stats["cache"] == 40_960_000
    assert stats["total_inactive_file"] == 30_000_000
    assert stats["total_pgfault"] == 0  # dockerd's keys are always there
    assert "shmem" not in stats  # …and only those
    assert len(stats) == 32
    assert cli_memory_usage(memory) == 30_000_000  # usage - total_inactive_file


def test_v2_memory_stats() -> None:
    body = stats_json("/web", ID, sample(v2_stats(), 1, "2024-05-01T10:00:01Z"), None)
    memory = body["memory_stats"]
    assert memory["usage"] == 50_000_000
    assert memory["limit"] == 512 * 1024 * 1024
    assert "max_usage" not in memory  # dockerd does not report memory.peak
    assert "failcnt" not in memory
    stats = memory["stats"]
    assert stats["anon"] == 30_000_000
    assert stats["inactive_file"] == 15_000_000
    assert "total_inactive_file" not in stats  # how the CLI knows this is v2
    assert len(stats) == 31
    assert cli_memory_usage(memory) == 35_000_000  # usage - inactive_file


def test_memory_limit_above_the_machine_is_capped() -> None:
    cgroup = v2_stats(memory_limit=64 * GiB)
    body = stats_json("/web", ID, sample(cgroup, 1, "2024-05-01T10:00:01Z"), None)
    assert body["memory_stats"]["limit"] == 8 * GiB
    uncapped = sample(cgroup, 1, "2024-05-01T10:00:01Z", machine_memory=0)
    assert stats_json("/web", ID, uncapped, None)["memory_stats"]["limit"] == 64 * GiB


def test_no_memory_accounting_gives_empty_memory_stats() -> None:
    cgroup = v1_stats(memory_usage=None, memory_stat={}, memory_max_usage=None)
    body = stats_json("/web", ID, sample(cgroup, 1, "2024-05-01T10:00:01Z"), None)
    assert body["memory_stats"] == {}


# Pids and block I/O


def test_pids_stats_omit_an_unlimited_limit() -> None:
    v1 = stats_json("/web", ID, sample(v1_stats(), 1, "2024-05-01T10:00:01Z"), None)
    assert v1["pids_stats"] == {"current": 4}
    v2 = stats_json("/web", ID, sample(v2_stats(), 1, "2024-05-01T10:00:01Z"), None)
    assert v2["pids_stats"] == {"current": 3, "limit": 100}
    none = v2_stats(pids_current=None, pids_limit=None)
    body = stats_json("/web", ID, sample(none, 1, "2024-05-01T10:00:01Z"), None)
    assert body["pids_stats"] == {}


def test_v1_blkio_lists_are_all_present() -> None:
    blkio = stats_json("/web", ID, sample(v1_stats(), 1, "2024-05-01T10:00:01Z"), None)[
        "blkio_stats"
    ]
    assert blkio["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "Write", "value": 8192},
        {"major": 8, "minor": 0, "op": "Total", "value": 12288},
    ]
    assert blkio["io_serviced_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 1},
        {"major": 8, "minor": 0, "op": "Write", "value": 2},
    ]
    assert blkio["io_queue_recursive"] == []
    assert blkio["sectors_recursive"] == []
    assert len(blkio) == 8


def test_v2_blkio_has_only_bytes_and_nulls() -> None:
    blkio = stats_json("/web", ID, sample(v2_stats(), 1, "2024-05-01T10:00:01Z"), None)[
        "blkio_stats"
    ]
    assert blkio["io_service_bytes_recursive"] == [
        {"major": 259, "minor": 0, "op": "read", "value": 1024},
        {"major": 259, "minor": 0, "op": "write", "value": 0},
    ]
    others = {key: value for key, value in blkio.items() if key != "io_service_bytes_recursive"}
    assert len(others) == 7
    assert set(others.values()) == {None}
    empty = v2_stats(io_service_bytes=())
    body = stats_json("/web", ID, sample(empty, 1, "2024-05-01T10:00:01Z"), None)
    assert body["blkio_stats"]["io_service_bytes_recursive"] is None


# Networks


def test_networks_appear_when_the_sample_has_them() -> None:
    networks = parse_net_dev(NET_DEV)
    current = sample(v2_stats(), 1, "2024-05-01T10:00:01Z", networks=networks)
    body = stats_json("/web", ID, current, None)
    assert list(body)[-1] == "networks"
    assert body["networks"]["eth0"]["rx_bytes"] == 11218
    loopback_only = sample(v2_stats(), 1, "2024-05-01T10:00:01Z", networks={})
    assert "networks" not in stats_json("/web", ID, loopback_only, None)


# A container that is not running


def test_zero_stats_for_a_stopped_container() -> None:
    zero_cpu = {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }
    assert zero_stats_json("/web", ID) == {
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": {
            "io_service_bytes_recursive": None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": zero_cpu,
        "precpu_stats": zero_cpu,
        "memory_stats": {},
        "name": "/web",
        "id": ID,
    }
    assert ZERO_TIME == "0001-01-01T00:00:00Z"


def test_zero_stats_do_not_share_state_between_calls() -> None:
    first = zero_stats_json("/a", ID)
    first["cpu_stats"]["cpu_usage"]["total_usage"] = 7
    first["blkio_stats"]["io_service_bytes_recursive"] = []
    second = zero_stats_json("/b", ID)
    assert second["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert second["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert second["blkio_stats"]["io_service_bytes_recursive"] is None


# take_sample against a fake cgroup2 tree (the host's /proc is real)


def test_take_sample_reads_the_container_cgroup(tmp_path: Path) -> None:
    directory = tmp_path / "doca" / ID
    directory.mkdir(parents=True)
    (directory / "memory.current").write_text("4096\n")
    (directory / "memory.max").write_text("max\n")
    (directory / "memory.stat").write_text("anon 1024\ninactive_file 512\n")
    (directory / "cpu.stat").write_text("usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n")
    (directory / "pids.current").write_text("2\n")
    mounts = CgroupMounts(CgroupLayout.UNIFIED, unified=tmp_path)

    taken = take_sample(mounts, ID, pid=os.getpid())

    assert taken.cgroup.version == 2
    assert taken.cgroup.cpu_total_ns == 2_000_000
    assert taken.system_cpu > 0
    assert taken.online_cpus >= 1
    assert taken.machine_memory > 0
    assert taken.networks is not None  # this process's network namespace
    assert "lo" not in taken.networks
    assert taken.read.endswith("Z")
    body = stats_json("/web", ID, taken, None)
    assert body["memory_stats"]["usage"] == 4096
    assert body["memory_stats"]["limit"] == taken.machine_memory
    assert body["memory_stats"]["stats"]["inactive_file"] == 512
    assert body["pids_stats"] == {"current": 2}
