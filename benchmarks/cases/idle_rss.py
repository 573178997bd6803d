"""Idle RSS: engine and its descendants plus the per-container monitors (conmon for Doca,
containerd-shim for dockerd), with 0 and with 20 running ``sleep`` containers. RSS is summed per
process, so pages shared between processes count more than once."""

from __future__ import annotations

import time

import psutil

from benchmarks.cases import Result, create, remove
from benchmarks.engines import Engine

RUNNING = 20
MONITORS = ("conmon", "containerd-shim")


def monitors(ids: list[str]) -> list[psutil.Process]:
    """Monitor processes whose command line names one of ``ids``."""
    if not ids:
        return []
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = proc.info["name"] or ""
        cmdline = " ".join(proc.info["cmdline"] or [])
        if name.startswith(MONITORS) and any(cid in cmdline for cid in ids):
            found.append(proc)
    return found


def rss_mb(engine: Engine, ids: list[str]) -> float:
    root = psutil.Process(engine.pid)
    mons = monitors(ids)
    payload: set[int] = set()  # the containers' own processes are not the engine's cost
    for mon in mons:
        payload.update(p.pid for p in mon.children(recursive=True))
    procs = {p.pid: p for p in [root, *root.children(recursive=True), *mons]}
    total = 0
    for pid, proc in procs.items():
        if pid in payload:
            continue
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
