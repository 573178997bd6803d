"""``docker run --rm busybox true``: median latency on Doca and, where installed, Debian's
dockerd, measured interleaved in one run and reported as a ratio (machines here are noisy)."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.engines import Engine, debian_dockerd, doca_engine, test_image

COMMAND = ("run", "--rm", "--network", "none", "busybox", "true")


def measure(engine: Engine) -> float:
    started = time.perf_counter()
    engine.cli(*COMMAND)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, help="write the Markdown table here as well")
    args = parser.parse_args(argv)
    image = test_image(Path(tempfile.gettempdir()) / "doca-bench-image")
    with contextlib.ExitStack() as stack:
        engines = [stack.enter_context(doca_engine(image))]
        dockerd = stack.enter_context(debian_dockerd(image))
        if dockerd is not None:
            engines.append(dockerd)
        for engine in engines:  # warm-up: first runs pay for caches
            measure(engine)
        samples: dict[str, list[float]] = {e.name: [] for e in engines}
        for _ in range(args.runs):
            for engine in engines:
                samples[engine.name].append(measure(engine))
    lines = [
        "| engine | median | min | max | ratio to dockerd |",
        "|---|---|---|---|---|",
    ]
    base = statistics.median(samples["dockerd"]) if "dockerd" in samples else None
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = f"{median / base:.2f}" if base else "n/a (dockerd not installed)"
        lines.append(
            f"| {name} | {median * 1000:.0f} ms | {min(values) * 1000:.0f} ms | "
            f"{max(values) * 1000:.0f} ms | {ratio} |"
        )
    table = "\n".join(lines)
    print(f"`docker {' '.join(COMMAND)}`, {args.runs} runs each, interleaved\n\n{table}")
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
