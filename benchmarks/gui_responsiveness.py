"""How responsive the desktop app stays while a pull streams:
``python -m benchmarks.gui_responsiveness [--pulls N] [--limit-ms MS]``.

A Doca engine holding ``CONTAINERS`` running containers, Debian's registry on loopback holding
the ~50 MB image of ``benchmarks.cases.pull`` (five 10 MB layers of random bytes). The desktop
app's main window runs offscreen in a child process (``--probe``), on the Images page, and pulls
the image with its Pull dialog, as a user would; meanwhile a ``TICK_MS`` QTimer records the gaps
between its ticks, i.e. how long the Qt event loop (which also runs the app's asyncio work)
went without serving events. Per pull it reports the longest gap (the worst stall) and the 99th
percentile gap; the command exits 1 when a longest gap is above the limit (50 ms: past that, a
user sees a window that stutters). One unrecorded warm-up pull comes first.

Where Linux keeps scheduler statistics, each gap is also split into the app thread's time on a
CPU and its time waiting for one (``/proc/self/task/<tid>/schedstat``): a long gap spent
waiting means other processes (the engine extracting layers, the registry) had the CPUs; one
spent on a CPU means work on the app's thread.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.cases import create, remove
from benchmarks.cases.gui_first_paint import gui_env, offscreen_problem
from benchmarks.cases.pull import _image_tar  # the pull benchmark's image, built the same way
from benchmarks.engines import Engine, doca_engine, test_image
from tests.support.registry import REGISTRY, docker_registry

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

CONTAINERS = 50
TICK_MS = 5
LIMIT_MS = 50.0
WARMUP_PULLS = 1
TIMEOUT = 600.0
REPO = Path(__file__).resolve().parents[1]
RESULT = "pull-gaps"  # the probe's output lines: RESULT <JSON>


@dataclass(frozen=True)
class PullGaps:
    """The event loop's tick gaps during one pull through the app, and how the app's thread
    spent the longest one: (on a CPU, waiting for a CPU) in ms, when the kernel tells."""

    seconds: float
    gaps_ms: tuple[float, ...]
    longest_split_ms: tuple[float, float] | None = None

    @property
    def longest_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    @property
    def p99_ms(self) -> float:
        return percentile(self.gaps_ms, 99)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


# --- the parent: engine, registry, containers ---------------------------------------------


@contextlib.contextmanager
def pull_setup(doca: Engine) -> Iterator[str]:
    """A registry holding the ~50 MB image and ``CONTAINERS`` running containers in ``doca``;
    yields the image's reference, which ``doca`` does not hold. Everything goes afterwards."""
    work = Path(tempfile.mkdtemp(prefix="doca-bench-gui-pull-"))
    ids: list[str] = []
    try:
        with docker_registry(work) as address:
            reference = f"{address}/bench/fifty:1"
            doca.cli("load", "-i", str(_image_tar(work, reference)))
            doca.cli("push", "-q", reference)
            doca.cli("rmi", "-f", reference)
            for _ in range(CONTAINERS):
                ids.append(create(doca, ["sleep", "3600"]))
                status, reply = doca.api("POST", f"/containers/{ids[-1]}/start")
                if status != 204:
                    raise RuntimeError(f"start answered {status}: {reply}")
            yield reference
    finally:
        remove(doca, ids)
        shutil.rmtree(work, ignore_errors=True)


def run_probe(doca: Engine, reference: str, pulls: int, env: dict[str, str]) -> list[PullGaps]:
    """Launch the app in a child process; the gaps of each of its ``pulls`` recorded pulls."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gui_responsiveness", "--probe",
         f"unix://{doca.socket}", reference, "--pulls", str(pulls)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    found = [
        json.loads(line.removeprefix(RESULT + " "))
        for line in result.stdout.splitlines()
        if line.startswith(RESULT + " ")
    ]
    if result.returncode != 0 or len(found) != pulls + WARMUP_PULLS:
        tail = (result.stdout + result.stderr).strip()[-3000:]
        raise RuntimeError(f"the app's probe exited {result.returncode}:\n{tail}")
    return [
        PullGaps(r["seconds"], tuple(r["gaps_ms"]), r["split"] and tuple(r["split"]))
        for r in found[WARMUP_PULLS:]
    ]


def probe_env(home: Path) -> dict[str, str]:
    """The app's environment: offscreen, a home and docker config of its own, and a PATH of
    the interpreter's folder alone. The docker CLI's default credentials store on Linux is
    whichever of ``pass`` and ``secretservice`` has its helper on PATH; the Secret Service one
    needs a D-Bus session, which a benchmark without a desktop does not have. Without either,
    the pull is anonymous, as for a user who never logged in."""
    env = gui_env(home)
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        HOME=str(home),
        PATH=str(Path(sys.executable).parent),
    )
    return env


def setup_problem() -> str | None:
    if not REGISTRY.exists():
        return f"{REGISTRY} is not installed (apt install docker-registry)"
    return None


# --- the child: the app, the pull, the ticks ----------------------------------------------


class SchedStat:
    """The calling thread's time on a CPU and waiting for one, in ms, from the kernel's
    scheduler statistics (None where they are not kept)."""

    def __init__(self) -> None:
        self.path = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")

    def read(self) -> tuple[float, float] | None:
        try:
            on_cpu, waiting = self.path.read_text().split()[:2]
        except (OSError, ValueError):
            return None
        return int(on_cpu) / 1e6, int(waiting) / 1e6


@dataclass
class TickLog:
    """Each tick's time and scheduler statistics."""

    sched: SchedStat
    times: list[float]
    stats: list[tuple[float, float] | None]

    def mark(self) -> None:
        self.times.append(time.perf_counter())
        self.stats.append(self.sched.read())

    def clear(self) -> None:
        self.times.clear()
        self.stats.clear()

    def record(self, pull: int) -> dict[str, object]:
        """The gaps between the marks (the first and last are the pull's start and end), and
        how the longest was spent."""
        gaps = [round((b - a) * 1000, 3) for a, b in itertools.pairwise(self.times)]
        split = None
        if gaps:
            at = max(range(len(gaps)), key=gaps.__getitem__)
            before, after = self.stats[at], self.stats[at + 1]
            if before is not None and after is not None:
                split = [round(after[0] - before[0], 3), round(after[1] - before[1], 3)]
        seconds = round(self.times[-1] - self.times[0], 4)
        return {"pull": pull, "seconds": seconds, "gaps_ms": gaps, "split": split}


class PrintingPrompts:
    """Prompts that never open a dialog: errors are printed (and fail the probe)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def confirm(self, title: str, text: str) -> bool:
        return True

    def error(self, title: str, text: str) -> None:
        self.errors.append(f"{title}: {text}")
        print(f"error: {title}: {text}", file=sys.stderr, flush=True)

    def info(self, title: str, text: str) -> None:
        pass

    def ask_text(self, title: str, label: str) -> str | None:
        return None

    def open_file(self, title: str, name_filter: str) -> Path | None:
        return None


async def probe(app: QApplication, host: str, reference: str, pulls: int) -> int:
    """Pull ``reference`` through the app's Pull dialog ``WARMUP_PULLS + pulls`` times (the
    image removed in between), printing each pull's tick gaps."""
    import asyncio

    from PySide6.QtCore import Qt, QTimer

    from desktop_app.desktop import DesktopApp
    from desktop_app.engine_status import EngineState
    from desktop_app.engine_supervisor import EngineSupervisor
    from desktop_app.state.notification_settings import NotificationSettings

    prompts = PrintingPrompts()
    desktop = DesktopApp(
        EngineSupervisor(host, None, no_start_reason="the benchmark starts its own engine"),
        prompts=prompts,
        notifications=NotificationSettings(),
    )
    ticks = TickLog(SchedStat(), [], [])
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(ticks.mark)
    try:
        desktop.start()
        desktop.show()
        containers = desktop.session.containers
        while not (
            desktop.supervisor.status.state is EngineState.RUNNING
            and len(containers.running()) >= CONTAINERS
        ):
            await asyncio.sleep(0.05)
        desktop.window.show_page("Images")
        dialog = desktop.window.images.open_pull_dialog(reference)
        await asyncio.sleep(0.5)  # the first paints and loads are not the pull's
        for pull in range(WARMUP_PULLS + pulls):
            ticks.clear()
            timer.start()
            ticks.mark()
            task = dialog.start()
            if task is None:
                raise RuntimeError("the Pull dialog did not start a pull")
            await task
            ticks.mark()
            timer.stop()
            print(f"{RESULT} {json.dumps(ticks.record(pull))}", flush=True)
            await desktop.session.client.images.remove(reference, force=True)
            await asyncio.sleep(0.5)  # let the removal's events settle
        return 1 if prompts.errors else 0
    finally:
        timer.stop()
        await desktop.aclose()


def probe_main(host: str, reference: str, pulls: int) -> int:
    from desktop_app import aio

    return aio.run(lambda app: probe(app, host, reference, pulls), sys.argv[:1])


# --- the command --------------------------------------------------------------------------


def report(results: Sequence[PullGaps], limit_ms: float) -> bool:
    """Print the figures; True when every pull stayed within ``limit_ms``."""
    print(f"desktop app, {CONTAINERS} running containers, ~50 MB pull, {TICK_MS} ms ticks:")
    for n, pull in enumerate(results, 1):
        print(
            f"  pull {n}: {pull.seconds:.2f} s, {len(pull.gaps_ms)} gaps, "
            f"longest {pull.longest_ms:.1f} ms, p99 {pull.p99_ms:.1f} ms"
        )
        if pull.longest_split_ms is not None:
            on_cpu, waiting = pull.longest_split_ms
            print(f"    longest: {on_cpu:.1f} ms on a CPU, {waiting:.1f} ms waiting for one")
    every_gap = [gap for pull in results for gap in pull.gaps_ms]
    worst = max(pull.longest_ms for pull in results)
    print(
        f"longest stall {worst:.1f} ms, p99 gap {percentile(every_gap, 99):.1f} ms "
        f"(over all pulls; limit {limit_ms:g} ms)"
    )
    return worst <= limit_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gui_responsiveness")
    parser.add_argument("--pulls", type=int, default=5, help="recorded pulls (after a warm-up)")
    parser.add_argument("--limit-ms", type=float, default=LIMIT_MS)
    parser.add_argument("--probe", nargs=2, metavar=("HOST", "REFERENCE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        return probe_main(args.probe[0], args.probe[1], args.pulls)
    problem = setup_problem()
    if problem is not None:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="doca-bench-gui-") as tmp:
        os.chmod(tmp, 0o700)
        env = probe_env(Path(tmp))
        problem = offscreen_problem(env)
        if problem is not None:
            print(f"cannot run: Qt's offscreen platform does not load ({problem})", file=sys.stderr)
            return 2
        image = test_image(Path(tempfile.gettempdir()) / "doca-bench-image")
        with doca_engine(image) as doca, pull_setup(doca) as reference:
            results = run_probe(doca, reference, args.pulls, env)
    return 0 if report(results, args.limit_ms) else 1


if __name__ == "__main__":
    raise SystemExit(main())
