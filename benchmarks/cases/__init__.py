"""Benchmark cases: each module measures one thing on every engine, interleaved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.engines import Engine


@dataclass
class Result:
    title: str
    unit: str  # "ms", "s", "MB" or "ms/min"
    samples: dict[str, list[float]]  # engine name -> one value per run, in ``unit``


def timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def interleave(
    engines: list[Engine], runs: int, measure: Callable[[Engine], float], warmup: bool = True
) -> dict[str, list[float]]:
    """``measure`` each engine in turn, ``runs`` rounds (after one unrecorded warm-up round)."""
    if warmup:
        for engine in engines:
            measure(engine)
    samples: dict[str, list[float]] = {e.name: [] for e in engines}
    for _ in range(runs):
        for engine in engines:
            samples[engine.name].append(measure(engine))
    return samples


def create(engine: Engine, cmd: list[str], name: str | None = None) -> str:
    """Create a busybox container through the API (no network) and return its ID."""
    path = "/containers/create" + (f"?name={name}" if name else "")
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}}
    status, reply = engine.api("POST", path, body)
    if status != 201:
        raise RuntimeError(f"{engine.name}: create answered {status}: {reply}")
    return str(reply["Id"])


def remove(engine: Engine, ids: list[str]) -> None:
    for cid in ids:
        engine.api("DELETE", f"/containers/{cid}?force=1&v=1")
