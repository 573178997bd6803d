"""The engine's VM: start (QEMU launched) to ``/_ping`` answering through the forwarded
socket, median of N boots: ``python -m benchmarks.vm_start [--runs N] [--limit S]``.

The image is built (or found in the cache) first and not timed; one unrecorded warm-up boot
formats the data disk, which later boots reuse, as a user's do. Each boot is stopped cleanly
(power button) before the next. The 3 s target holds for hardware acceleration (KVM, HVF,
WHPX); where QEMU must emulate the CPU (TCG) the figure is reported, and not held to it.
The command exits 1 when an accelerated median is over the limit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Result
from benchmarks.engines import Engine
from engine_vm import accel, control
from engine_vm.image import ensure_image
from engine_vm.options import GIB, VMOptions

LIMIT_S = 3.0
RUNS = 5


def boot_seconds(root: Path, share: Path) -> tuple[float, str]:
    """One boot of a VM kept in ``root``: seconds to ``/_ping``, and the accelerator."""
    socket = root / "doca.sock"
    options = VMOptions(memory=1 * GIB, disk=4 * GIB, shares=(str(share),))
    started = control.start(socket, options, root / "state", log=lambda _: None)
    try:
        return started.seconds, started.accelerator
    finally:
        control.stop(socket, root / "state")


def measure(runs: int) -> tuple[list[float], str]:
    ensure_image(log=lambda line: print(f"  {line}", flush=True))
    root = Path(tempfile.mkdtemp(prefix="doca-bench-vm-"))
    try:
        share = root / "home"
        share.mkdir()
        boot_seconds(root, share)  # warm-up: formats the data disk
        samples = []
        accelerator = "?"
        for _ in range(runs):
            seconds, accelerator = boot_seconds(root, share)
            samples.append(seconds)
            time.sleep(0.5)
        return samples, accelerator
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(engines: list[Engine], runs: int) -> list[Result]:
    """As a case of ``python -m benchmarks`` (Doca only: the others have no VM of this kind)."""
    if not any(e.name == "doca" for e in engines):
        return []
    why = accel.why_not_kvm()
    samples, accelerator = measure(runs)
    title = f"VM start → `/_ping` answering through the forwarded socket ({accelerator}"
    title += f"; {why})" if why and accelerator == "tcg" else ")"
    return [Result(title, "ms", {"doca": [s * 1000 for s in samples]})]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vm_start", description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=RUNS)
    parser.add_argument("--limit", type=float, default=LIMIT_S, help="seconds (accelerated)")
    args = parser.parse_args(argv)
    samples, accelerator = measure(args.runs)
    median = statistics.median(samples)
    spread = f"min {min(samples):.2f} s, max {max(samples):.2f} s"
    print(f"VM start → /_ping ({accelerator}): median {median:.2f} s, {spread} "
          f"over {len(samples)} boots")  # fmt: skip
    if accelerator == "tcg":
        print(f"  emulated CPU ({accel.why_not_kvm() or 'no accelerator'}): "
              f"the {args.limit:g} s target applies to KVM/HVF/WHPX")  # fmt: skip
        return 0
    verdict = "within" if median <= args.limit else "over"
    print(f"  {verdict} the {args.limit:g} s target")
    return 0 if median <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
