"""``docker ps -a`` and ``docker inspect`` (all of them in one call) with 100 created containers."""

from __future__ import annotations

from benchmarks.cases import Result, create, interleave, remove, timed_ms
from benchmarks.engines import Engine

COUNT = 100


def run(engines: list[Engine], runs: int) -> list[Result]:
    made: dict[str, list[str]] = {e.name: [] for e in engines}
    try:
        for engine in engines:
            for _ in range(COUNT):
                made[engine.name].append(create(engine, ["true"]))
        ps = interleave(engines, runs, lambda e: timed_ms(lambda: e.cli("ps", "-a")))
        inspect = interleave(
            engines, runs, lambda e: timed_ms(lambda: e.cli("inspect", *made[e.name]))
        )
    finally:
        for engine in engines:
            remove(engine, made[engine.name])
    return [
        Result(f"`docker ps -a`, {COUNT} created containers", "ms", ps),
        Result(f"`docker inspect` of {COUNT} containers in one call", "ms", inspect),
    ]
