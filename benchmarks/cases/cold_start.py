"""Engine cold start: launch to ``/_ping`` answering, on a data root of its own (50 ms polling)."""

from __future__ import annotations

import shutil
import signal

from benchmarks.cases import Result
from benchmarks.engines import Engine, start_doca, start_dockerd, start_podman, stop_dockerd
from tests.support.engine import short_root


def doca_once() -> float:
    root = short_root()
    try:
        process, seconds = start_doca(root)
        process.stop(signal.SIGTERM)
        process.cleanup()
        return seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def dockerd_once() -> float:
    root = short_root()
    try:
        daemon, seconds = start_dockerd(root)
        stop_dockerd(daemon, root)
        return seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def podman_once() -> float:
    root = short_root()
    try:
        service, seconds = start_podman(root)
        service.stop()
        return seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(engines: list[Engine], runs: int) -> list[Result]:
    launchers = {"doca": doca_once, "dockerd": dockerd_once, "podman": podman_once}
    names = [e.name for e in engines if e.name in launchers]
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            samples[name].append(launchers[name]() * 1000)
    return [Result("engine launch → `/_ping` answering (fresh data root)", "ms", samples)]
