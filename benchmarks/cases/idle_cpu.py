"""Idle CPU: user + system time of the engine, its descendants and its monitors over
``DURATION`` seconds with no containers, as ms of CPU per minute. The engines idle side by side,
so the case takes ``DURATION`` once, and gives one figure per engine whatever ``--runs`` says.

Time of processes that exit within the window is counted once their parent reaps them (psutil's
``children_*`` times); processes that start within it count from zero. The kernel counts in
clock ticks (10 ms)."""

from __future__ import annotations

import time

import psutil

from benchmarks.cases import Result
from benchmarks.engines import Engine
from benchmarks.processes import container_ids, engine_processes

DURATION = 60.0  # seconds measured
SETTLE = 5.0  # seconds of quiet first, after the previous case's clean-up


def cpu_seconds(engine: Engine) -> dict[int, float]:
    """CPU seconds so far of each process the engine costs, by PID."""
    seconds = {}
    for proc in engine_processes(engine, container_ids(engine)):
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[proc.pid] = t.user + t.system + t.children_user + t.children_system
    return seconds


def run(engines: list[Engine], runs: int) -> list[Result]:
    for engine in engines:
        if container_ids(engine):
            raise RuntimeError(f"{engine.name}: containers left by an earlier case")
    time.sleep(SETTLE)
    before = {e.name: cpu_seconds(e) for e in engines}
    started = time.monotonic()
    time.sleep(DURATION)
    minutes = (time.monotonic() - started) / 60
    samples: dict[str, list[float]] = {}
    for engine in engines:
        after = cpu_seconds(engine)
        used = sum(t - before[engine.name].get(pid, 0.0) for pid, t in after.items())
        samples[engine.name] = [used * 1000 / minutes]
    title = f"idle CPU, 0 containers (engine + descendants + monitors), over {DURATION:.0f} s"
    return [Result(title, "ms/min", samples)]
