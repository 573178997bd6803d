"""Desktop app (Doca only): the Qt event loop's longest stall and 99th-percentile tick gap while
the app pulls a ~50 MB image from a local registry with its Pull dialog, offscreen, against an
engine holding 50 running containers; one value per pull. ``benchmarks.gui_responsiveness``
does the work (and runs alone, with a pass/fail limit)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.cases import Result
from benchmarks.cases.gui_first_paint import offscreen_problem
from benchmarks.engines import Engine
from benchmarks.gui_responsiveness import (
    CONTAINERS,
    TICK_MS,
    probe_env,
    pull_setup,
    run_probe,
    setup_problem,
)


def run(engines: list[Engine], runs: int) -> list[Result]:
    doca = next((e for e in engines if e.name == "doca"), None)
    if doca is None:
        return []
    problem = setup_problem()
    if problem is not None:
        print(f"  skipped: {problem}")
        return []
    with tempfile.TemporaryDirectory(prefix="doca-bench-gui-") as tmp:
        os.chmod(tmp, 0o700)
        env = probe_env(Path(tmp))
        problem = offscreen_problem(env)
        if problem is not None:
            print(f"  skipped: Qt's offscreen platform does not load ({problem})")
            return []
        with pull_setup(doca) as reference:
            pulls = run_probe(doca, reference, runs, env)
    during = f"during a ~50 MB pull in the app ({CONTAINERS} running containers, offscreen)"
    return [
        Result(
            f"desktop app: longest event-loop stall {during}",
            "ms",
            {"doca": [p.longest_ms for p in pulls]},
        ),
        Result(
            f"desktop app: p99 gap between {TICK_MS} ms timer ticks {during}",
            "ms",
            {"doca": [p.p99_ms for p in pulls]},
        ),
    ]
