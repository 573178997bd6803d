"""Run every benchmark case on Doca and (where installed) Debian's dockerd and podman,
interleaved, and write ``benchmarks/results.md`` and ``benchmarks/results.png``."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import platform
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Result
from benchmarks.engines import debian_dockerd, debian_podman, doca_engine, test_image
from benchmarks.report import write_chart, write_markdown

#: case name -> module under benchmarks.cases
CASES = {
    "run": "run_rm",
    "run-rootless": "run_rootless",
    "create-start-wait": "create_start_wait",
    "exec": "exec_true",
    "ps-inspect": "list_inspect",
    "parallel": "parallel",
    "cold-start": "cold_start",
    "rss": "idle_rss",
    "idle-cpu": "idle_cpu",
    "pull": "pull",
    "load": "load",
    "build": "build",
    "gui-first-paint": "gui_first_paint",
    "gui-responsiveness": "gui_responsiveness",
    "vm-start": "vm_start",
}
HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="recorded runs per case and engine")
    parser.add_argument("--cases", default=",".join(CASES), help=f"from: {','.join(CASES)}")
    parser.add_argument("--no-dockerd", action="store_true", help="leave Debian's dockerd out")
    parser.add_argument("--no-podman", action="store_true", help="leave podman out")
    parser.add_argument("--out", type=Path, default=HERE, help="directory for results.*")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CASES]
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)}")

    started = time.monotonic()
    image = test_image(Path(tempfile.gettempdir()) / "doca-bench-image")
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        engines = [stack.enter_context(doca_engine(image))]
        peers = [
            ("dockerd", args.no_dockerd, debian_dockerd),
            ("podman", args.no_podman, debian_podman),
        ]
        for name, left_out, peer in peers:
            if left_out:
                continue
            engine = stack.enter_context(peer(image))
            if engine is None:
                print(f"{name} skipped: not installed (or not running as root)", flush=True)
            else:
                engines.append(engine)
        for case in chosen:
            print(f"case {case} ...", flush=True)
            module = importlib.import_module(f"benchmarks.cases.{CASES[case]}")
            results.extend(module.run(engines, args.runs))
        names = ", ".join(e.name for e in engines)
    elapsed = time.monotonic() - started
    header = (
        f"Engines: {names}. {args.runs} recorded runs per engine after one warm-up (unless a "
        "case says otherwise), interleaved between engines; docker CLI as client where a "
        f"command is shown. Machine: "
        f"{platform.machine()}, {platform.release()}. Whole run took {elapsed:.0f} s. "
        "Machines here are noisy: compare ratios, not absolute times."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "results.md", results, header)
    write_chart(args.out / "results.png", results)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
