"""``docker run --rm --network none busybox true`` on Doca run rootless (by an unprivileged
user with a subordinate ID range, the docker CLI run as that user), interleaved with the same
command on the root-mode engines; dockerd's figure stays the ratio's base."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.cases import Result, interleave
from benchmarks.engines import Engine, test_image
from benchmarks.rootless import doca_rootless
from benchmarks.run_latency import COMMAND, measure


def run(engines: list[Engine], runs: int) -> list[Result]:
    image = test_image(Path(tempfile.gettempdir()) / "doca-bench-image")
    with doca_rootless(image) as rootless:
        if rootless is None:
            print("run-rootless skipped: needs root to make a user, and crun, newuidmap, …")
            return []
        measured = [*engines[:1], rootless, *engines[1:]]
        samples = interleave(measured, runs, lambda e: measure(e) * 1000)
    return [Result(f"rootless next to root: `docker {' '.join(COMMAND)}`", "ms", samples)]
