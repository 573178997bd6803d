"""Idle RSS: engine and its descendants plus the per-container monitors (conmon for Doca and
podman, containerd-shim for dockerd), with 0 and with 20 running ``sleep`` containers. RSS is
summed per process, so pages shared between processes count more than once."""

from __future__ import annotations

import time

import psutil

from benchmarks.cases import Result, create, remove
from benchmarks.engines import Engine
from benchmarks.processes import engine_processes

RUNNING = 20


def rss_mb(engine: Engine, ids: list[str]) -> float:
    total = 0
    for proc in engine_processes(engine, ids):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def sample(engines: list[Engine], runs: int, ids: dict[str, list[str]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {e.name: [] for e in engines}
    for _ in range(runs):
        for engine in engines:
            samples[engine.name].append(rss_mb(engine, ids[engine.name]))
        time.sleep(0.2)
    return samples


def run(engines: list[Engine], runs: int) -> list[Result]:
    made: dict[str, list[str]] = {e.name: [] for e in engines}
    try:
        time.sleep(1)
        idle = sample(engines, runs, made)
        for engine in engines:
            for _ in range(RUNNING):
                cid = create(engine, ["sleep", "600"])
                made[engine.name].append(cid)
                status, reply = engine.api("POST", f"/containers/{cid}/start")
                if status != 204:
                    raise RuntimeError(f"{engine.name}: start answered {status}: {reply}")
        time.sleep(2)
        busy = sample(engines, runs, made)
    finally:
        for engine in engines:
            remove(engine, made[engine.name])
    per = {
        name: [(value - min(idle[name])) / RUNNING for value in values]
        for name, values in busy.items()
    }
    return [
        Result("idle RSS, 0 containers (engine + descendants)", "MB", idle),
        Result(f"idle RSS, {RUNNING} running `sleep` containers (+ monitors)", "MB", busy),
        Result(f"RSS per running container ((busy - min idle) / {RUNNING})", "MB", per),
    ]
