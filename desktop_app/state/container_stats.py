"""A container's live resource use, computed from ``GET /containers/{id}/stats`` samples the way
the docker CLI computes ``docker stats`` (cli/command/container/stats_helpers.go), and the last
minute of it for the charts.

Each sample carries the previous reading in ``precpu_stats``, so one sample is enough for the CPU
percentage: Δ container CPU time / Δ host CPU time * online CPUs * 100. Memory is the usage
without the page cache that can be reclaimed at once: ``total_inactive_file`` on cgroup v1 hosts,
``inactive_file`` on v2 hosts (the CLI tells them apart by the first key)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from doca.client import EngineClient

HISTORY = 60  # samples kept for the charts: a minute at the engine's one per second

Sample = Mapping[str, Any]


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def cpu_percent(sample: Sample) -> float:
    """CPU use as ``docker stats`` shows it: 100 is one CPU fully busy."""
    cpu, previous = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    usage, previous_usage = cpu.get("cpu_usage") or {}, previous.get("cpu_usage") or {}
    cpu_delta = _number(usage.get("total_usage")) - _number(previous_usage.get("total_usage"))
    system_delta = _number(cpu.get("system_cpu_usage")) - _number(previous.get("system_cpu_usage"))
    online = _number(cpu.get("online_cpus")) or len(usage.get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(memory_stats: Mapping[str, Any]) -> int:
    """Bytes in use without the inactive file cache (the CLI's calculateMemUsageUnixNoCache)."""
    usage = _number(memory_stats.get("usage"))
    stats = memory_stats.get("stats") or {}
    if "total_inactive_file" in stats:  # cgroup v1
        inactive = _number(stats["total_inactive_file"])
        if inactive < usage:
            return usage - inactive
    inactive = _number(stats.get("inactive_file"))
    return usage - inactive if inactive < usage else usage


def block_io(blkio_stats: Mapping[str, Any]) -> tuple[int, int]:
    """(bytes read, bytes written) summed over the devices' ``Read``/``Write`` entries."""
    read = written = 0
    for entry in blkio_stats.get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "")[:1].lower()
        if op == "r":
            read += _number(entry.get("value"))
        elif op == "w":
            written += _number(entry.get("value"))
    return read, written


def network_io(networks: Mapping[str, Any] | None) -> tuple[int, int]:
    """(bytes received, bytes sent) over every interface."""
    counters: Iterable[Mapping[str, Any]] = (networks or {}).values()
    rx = tx = 0
    for interface in counters:
        rx += _number(interface.get("rx_bytes"))
        tx += _number(interface.get("tx_bytes"))
    return rx, tx


def binary_size(size: float) -> str:
    """Bytes as ``docker stats`` prints memory: binary units, four significant digits."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            return f"{value:.4g}{unit}"
        value /= 1024
    return f"{value:.4g}PiB"


def cpu_scale(values: Sequence[float]) -> float:
    """The top of the CPU chart: 100 (one CPU), or the next hundred above a busier peak."""
    peak = max(values, default=0.0)
    return max(100.0, math.ceil(peak / 100.0) * 100.0)


def memory_scale(values: Sequence[float], limit: int) -> float:
    """The top of the memory chart: a quarter above the peak, so that the line moves visibly
    (a limit of gigabytes would flatten it), but never above the limit."""
    top = max(max(values, default=0.0) * 1.25, 1.0)
    return min(top, float(limit)) if limit else top


@dataclass(frozen=True)
class StatsReading:
    """One sample in the numbers the view shows."""

    cpu_percent: float
    memory_usage: int
    memory_limit: int
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int

    @property
    def memory_percent(self) -> float:
        return self.memory_usage / self.memory_limit * 100.0 if self.memory_limit else 0.0


def reading(sample: Sample) -> StatsReading:
    memory = sample.get("memory_stats") or {}
    rx, tx = network_io(sample.get("networks"))
    read, written = block_io(sample.get("blkio_stats") or {})
    return StatsReading(
        cpu_percent=cpu_percent(sample),
        memory_usage=memory_usage(memory),
        memory_limit=_number(memory.get("limit")),
        net_rx=rx,
        net_tx=tx,
        block_read=read,
        block_write=written,
        pids=_number((sample.get("pids_stats") or {}).get("current")),
    )


class StatsHistory:
    """The last ``HISTORY`` readings, oldest first."""

    def __init__(self, size: int = HISTORY) -> None:
        self.readings: deque[StatsReading] = deque(maxlen=size)

    def add(self, sample: Sample) -> StatsReading:
        latest = reading(sample)
        self.readings.append(latest)
        return latest

    def clear(self) -> None:
        self.readings.clear()

    @property
    def latest(self) -> StatsReading | None:
        return self.readings[-1] if self.readings else None

    def cpu_series(self) -> list[float]:
        return [r.cpu_percent for r in self.readings]

    def memory_series(self) -> list[float]:
        return [float(r.memory_usage) for r in self.readings]


async def follow_stats(
    client: EngineClient,
    container_id: str,
    history: StatsHistory,
    on_reading: Callable[[StatsReading], None],
) -> None:
    """Add every sample of the container's stats stream to ``history`` and report it, until the
    stream ends (the engine ends it when the container stops) or the task is cancelled."""
    async for sample in client.containers.stats(container_id, stream=True):
        on_reading(history.add(sample))
