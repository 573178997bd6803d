"""Throughput: 100 ``true`` containers (no network) created, then started, by 16 API clients in
parallel; the total seconds for both steps. The containers are removed after each run. No
warm-up round: each run starts a hundred containers, which warms up whatever there is."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from benchmarks.cases import Result, create, interleave, remove
from benchmarks.engines import Engine

COUNT = 100
CLIENTS = 16

T = TypeVar("T")


def settle(futures: list[Future[T]]) -> tuple[list[T], BaseException | None]:
    """Wait for every future: the results of those that succeeded, and the first failure."""
    failure = next((f.exception() for f in futures if f.exception() is not None), None)
    return [f.result() for f in futures if f.exception() is None], failure


def start(engine: Engine, cid: str) -> None:
    status, reply = engine.api("POST", f"/containers/{cid}/start")
    if status != 204:
        raise RuntimeError(f"{engine.name}: start answered {status}: {reply}")


def create_and_start(engine: Engine, pool: ThreadPoolExecutor) -> float:
    started = time.perf_counter()
    ids, failure = settle([pool.submit(create, engine, ["true"]) for _ in range(COUNT)])
    try:
        if failure is None:
            _, failure = settle([pool.submit(start, engine, cid) for cid in ids])
        elapsed = time.perf_counter() - started
    finally:
        settle([pool.submit(remove, engine, [cid]) for cid in ids])
    if failure is not None:
        raise failure
    return elapsed


def run(engines: list[Engine], runs: int) -> list[Result]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        samples = interleave(engines, runs, lambda e: create_and_start(e, pool), warmup=False)
    title = f"{COUNT} containers created then started by {CLIENTS} parallel API clients"
    return [Result(title, "s", samples)]
