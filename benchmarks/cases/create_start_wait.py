"""``create``, ``start`` and ``wait`` of a ``true`` container, each timed on its own (API)."""

from __future__ import annotations

from benchmarks.cases import Result, create, remove, timed_ms
from benchmarks.engines import Engine

STEPS = ("create", "start", "wait")


def one_cycle(engine: Engine) -> dict[str, float]:
    ids: list[str] = []
    times = {"create": timed_ms(lambda: ids.append(create(engine, ["true"])))}
    try:
        cid = ids[0]
        times["start"] = timed_ms(lambda: engine.api("POST", f"/containers/{cid}/start"))
        times["wait"] = timed_ms(lambda: engine.api("POST", f"/containers/{cid}/wait"))
    finally:
        remove(engine, ids)
    return times


def run(engines: list[Engine], runs: int) -> list[Result]:
    for engine in engines:  # warm-up
        one_cycle(engine)
    samples: dict[str, dict[str, list[float]]] = {s: {e.name: [] for e in engines} for s in STEPS}
    for _ in range(runs):
        for engine in engines:
            for step, ms in one_cycle(engine).items():
                samples[step][engine.name].append(ms)
    return [Result(f"API `POST /containers/{step}` (true)", "ms", samples[step]) for step in STEPS]
