"""``docker exec CTR true`` on a running container, through the CLI."""

from __future__ import annotations

from benchmarks.cases import Result, create, interleave, remove, timed_ms
from benchmarks.engines import Engine


def run(engines: list[Engine], runs: int) -> list[Result]:
    made: dict[str, str] = {}
    try:
        for engine in engines:
            made[engine.name] = create(engine, ["sleep", "600"])
            engine.api("POST", f"/containers/{made[engine.name]}/start")
        samples = interleave(
            engines, runs, lambda e: timed_ms(lambda: e.cli("exec", made[e.name], "true"))
        )
    finally:
        for engine in engines:
            if engine.name in made:
                remove(engine, [made[engine.name]])
    return [Result("`docker exec CTR true`", "ms", samples)]
