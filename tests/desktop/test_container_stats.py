"""``docker stats`` numbers from stats samples shaped as dockerd sends them (the Engine API
reference's example, a cgroup v2 sample, a stopped container's zero sample)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from desktop_app.state.container_stats import (
    HISTORY,
    StatsHistory,
    binary_size,
    block_io,
    cpu_percent,
    cpu_scale,
    follow_stats,
    memory_scale,
    memory_usage,
    network_io,
    reading,
)

# The example of GET /containers/{id}/stats in the Engine API reference (cgroup v1).
API_EXAMPLE: dict[str, Any] = {
    "read": "2015-01-08T22:57:31.547920715Z",
    "pids_stats": {"current": 3},
    "networks": {
        "eth0": {"rx_bytes": 5338, "rx_dropped": 0, "rx_errors": 0, "rx_packets": 36,
                 "tx_bytes": 648, "tx_dropped": 0, "tx_errors": 0, "tx_packets": 8},
        "eth5": {"rx_bytes": 4641, "rx_dropped": 0, "rx_errors": 0, "rx_packets": 26,
                 "tx_bytes": 690, "tx_dropped": 0, "tx_errors": 0, "tx_packets": 9},
    },
    "memory_stats": {
        "stats": {"total_pgmajfault": 0, "cache": 0, "mapped_file": 0,
                  "total_inactive_file": 0, "pgpgout": 414, "rss": 6537216,
                  "total_mapped_file": 0, "writeback": 0, "unevictable": 0, "pgpgin": 477,
                  "total_unevictable": 0, "pgmajfault": 0, "total_rss": 6537216,
                  "total_rss_huge": 6291456, "total_writeback": 0, "total_inactive_anon": 0,
                  "rss_huge": 6291456, "hierarchical_memory_limit": 67108864,
                  "total_pgfault": 964, "total_active_file": 0, "active_anon": 6537216,
                  "total_active_anon": 6537216, "total_pgpgout": 414, "total_cache": 0,
                  "inactive_anon": 0, "active_file": 0, "pgfault": 964, "inactive_file": 0,
                  "total_pgpgin": 477},
        "max_usage": 6651904,
        "usage": 6537216,
        "failcnt": 0,
        "limit": 67108864,
    },
    "blkio_stats": {},
    "cpu_stats": {
        "cpu_usage": {"percpu_usage": [8646879, 24472255, 36438778, 30657443],
                      "usage_in_usermode": 50000000, "total_usage": 100215355,
                      "usage_in_kernelmode": 30000000},
        "system_cpu_usage": 739306590000000,
        "online_cpus": 4,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    },
    "precpu_stats": {
        "cpu_usage": {"percpu_usage": [8646879, 24350896, 36438778, 30657443],
                      "usage_in_usermode": 50000000, "total_usage": 100093996,
                      "usage_in_kernelmode": 30000000},
        "system_cpu_usage": 9492140000000,
        "online_cpus": 4,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    },
}  # fmt: skip

# A cgroup v2 host: no percpu_usage, memory.stat keys without "total_", io.stat ops lower-case.
V2_SAMPLE: dict[str, Any] = {
    "pids_stats": {"current": 2, "limit": 4915},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 4096},
            {"major": 8, "minor": 0, "op": "write", "value": 8192},
            {"major": 8, "minor": 16, "op": "read", "value": 1000},
        ],
        "io_serviced_recursive": None,
    },
    "cpu_stats": {
        "cpu_usage": {"total_usage": 2_500_000_000},
        "system_cpu_usage": 20_000_000_000,
        "online_cpus": 2,
    },
    "precpu_stats": {
        "cpu_usage": {"total_usage": 2_000_000_000},
        "system_cpu_usage": 18_000_000_000,
        "online_cpus": 2,
    },
    "memory_stats": {
        "usage": 50_000_000,
        "stats": {"anon": 30_000_000, "file": 20_000_000, "inactive_file": 15_000_000},
        "limit": 100_000_000,
    },
}

# What the engine (and dockerd) sends for a container that does not run.
STOPPED_SAMPLE: dict[str, Any] = {
    "read": "0001-01-01T00:00:00Z",
    "pids_stats": {},
    "blkio_stats": {"io_service_bytes_recursive": None},
    "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "memory_stats": {},
}


def test_cpu_percent_as_the_docker_cli_computes_it() -> None:
    expected = (100215355 - 100093996) / (739306590000000 - 9492140000000) * 4 * 100
    assert cpu_percent(API_EXAMPLE) == pytest.approx(expected)
    # (0.5 s of CPU) / (2 s of host CPU time) * 2 CPUs = half of one CPU
    assert cpu_percent(V2_SAMPLE) == pytest.approx(50.0)
    assert cpu_percent(STOPPED_SAMPLE) == 0.0


def test_cpu_percent_counts_per_cpu_entries_without_online_cpus() -> None:
    sample = {
        "cpu_stats": {"cpu_usage": {"total_usage": 300, "percpu_usage": [1, 2, 3, 4]},
                      "system_cpu_usage": 1000},
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 600},
    }  # fmt: skip
    assert cpu_percent(sample) == pytest.approx(200 / 400 * 4 * 100)


def test_memory_without_the_inactive_file_cache() -> None:
    assert memory_usage(API_EXAMPLE["memory_stats"]) == 6537216  # total_inactive_file 0
    assert memory_usage(V2_SAMPLE["memory_stats"]) == 35_000_000
    v1 = {"usage": 1000, "stats": {"total_inactive_file": 300, "inactive_file": 100}}
    assert memory_usage(v1) == 700  # v1 hosts: the hierarchical total
    assert memory_usage({"usage": 100, "stats": {"inactive_file": 500}}) == 100
    assert memory_usage({}) == 0


def test_block_and_network_io() -> None:
    assert block_io(V2_SAMPLE["blkio_stats"]) == (5096, 8192)
    ops = [("Read", 7), ("Write", 9), ("Sync", 16), ("", 1)]
    v1 = {"io_service_bytes_recursive": [{"op": op, "value": value} for op, value in ops]}
    assert block_io(v1) == (7, 9)
    assert block_io({}) == (0, 0)
    assert network_io(API_EXAMPLE["networks"]) == (5338 + 4641, 648 + 690)
    assert network_io(None) == (0, 0)


def test_reading_of_the_api_example() -> None:
    r = reading(API_EXAMPLE)
    assert (r.memory_usage, r.memory_limit, r.pids) == (6537216, 67108864, 3)
    assert r.memory_percent == pytest.approx(6537216 / 67108864 * 100)
    assert (r.net_rx, r.net_tx, r.block_read, r.block_write) == (9979, 1338, 0, 0)
    stopped = reading(STOPPED_SAMPLE)
    assert (stopped.cpu_percent, stopped.memory_usage, stopped.memory_percent) == (0.0, 0, 0.0)


def test_sizes_like_docker_stats() -> None:
    assert binary_size(0) == "0B"
    assert binary_size(6537216) == "6.234MiB"
    assert binary_size(67108864) == "64MiB"
    assert binary_size(2 * 1024**3) == "2GiB"


def test_history_keeps_the_last_minute_and_the_chart_scales() -> None:
    history = StatsHistory()
    for _ in range(HISTORY + 5):
        history.add(V2_SAMPLE)
    assert len(history.readings) == HISTORY
    assert history.cpu_series() == [pytest.approx(50.0)] * HISTORY
    assert history.memory_series()[-1] == 35_000_000
    assert cpu_scale([]) == 100 and cpu_scale([12.0]) == 100 and cpu_scale([150.0]) == 200
    assert memory_scale([40.0], 1000) == 50.0
    assert memory_scale([900.0], 1000) == 1000.0  # never above the limit
    assert memory_scale([], 0) == 1.0
    history.clear()
    assert history.latest is None


class _StatsClient:
    def __init__(self, samples: list[dict[str, Any]]) -> None:
        self.containers = self
        self.samples = samples

    async def stats(self, container: str, stream: bool = True) -> AsyncIterator[dict[str, Any]]:
        for sample in self.samples:
            await asyncio.sleep(0)
            yield sample


async def test_follow_stats_reports_every_sample_until_the_stream_ends() -> None:
    history = StatsHistory()
    seen: list[float] = []
    client = _StatsClient([API_EXAMPLE, V2_SAMPLE])
    await follow_stats(client, "c1", history, lambda r: seen.append(r.cpu_percent))  # type: ignore[arg-type]
    assert len(seen) == 2 and seen[1] == pytest.approx(50.0)
    assert history.latest is not None and history.latest.pids == 2
