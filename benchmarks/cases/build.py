"""``docker build`` (classic builder) of a small multi-step Dockerfile: from scratch with
``--no-cache``, and again with everything cached."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from benchmarks.cases import Result, interleave, timed_ms
from benchmarks.engines import Engine
from tests.support.engine import DOCKER

DOCKERFILE = """\
FROM busybox
ENV GREETING=hello
RUN echo "$GREETING" > /greeting
COPY data/ /data/
RUN cat /data/* | wc -c > /size
WORKDIR /app
LABEL bench=build
CMD ["cat", "/size"]
"""
FILES = 20
FILE_SIZE = 10_000


def _context(root: Path) -> Path:
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "data").mkdir()
    for index in range(FILES):
        (root / "data" / f"f{index:02}").write_bytes(bytes([index]) * FILE_SIZE)
    return root


def _build(engine: Engine, context: Path, *args: str) -> None:
    env = {**engine.cli.env(), "DOCKER_BUILDKIT": "0"}
    subprocess.run(
        [DOCKER, "build", "-q", "--network", "none", "-t", "bench-build", *args, str(context)],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


def run(engines: list[Engine], runs: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="doca-bench-build-") as tmp:
        context = _context(Path(tmp))
        cold = interleave(
            engines, runs, lambda e: timed_ms(lambda: _build(e, context, "--no-cache"))
        )
        cached = interleave(engines, runs, lambda e: timed_ms(lambda: _build(e, context)))
    for engine in engines:
        engine.cli("rmi", "bench-build", check=False)
        engine.cli("builder", "prune", "-af", check=False)
    return [
        Result("`docker build --no-cache` (8 steps, 2 RUN, 20 files)", "ms", cold),
        Result("`docker build` again, all steps cached", "ms", cached),
    ]
