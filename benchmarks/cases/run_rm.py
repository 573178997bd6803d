"""``docker run --rm --network none busybox true`` through the CLI."""

from __future__ import annotations

from benchmarks.cases import Result, interleave
from benchmarks.engines import Engine
from benchmarks.run_latency import COMMAND, measure


def run(engines: list[Engine], runs: int) -> list[Result]:
    samples = interleave(engines, runs, lambda e: measure(e) * 1000)
    return [Result(f"`docker {' '.join(COMMAND)}`", "ms", samples)]
