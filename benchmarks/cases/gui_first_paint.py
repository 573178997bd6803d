"""Desktop app (Doca only): launch → the containers table first painted with rows, under
``QT_QPA_PLATFORM=offscreen``, against the running engine holding ``CONTAINERS`` containers.
Includes the interpreter's start and the Qt imports, as a user's launch does."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Result, create, interleave, remove
from benchmarks.engines import Engine

CONTAINERS = 20
TIMEOUT = 60.0
PAINTED = "first-paint"  # as benchmarks.gui_probe prints it (that module imports Qt)
REPO = Path(__file__).resolve().parents[2]


def gui_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "QT_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(home),
        DOCKER_CONFIG=str(home / "docker"),
        PYTHONUNBUFFERED="1",
    )
    return env


def offscreen_problem(env: dict[str, str]) -> str | None:
    """Why Qt's offscreen platform cannot start here, or None."""
    check = "from PySide6.QtWidgets import QApplication; QApplication([])"
    try:
        result = subprocess.run(
            [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "QApplication did not start within 60 s"
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["?"])[-1]


def first_paint_ms(engine: Engine, env: dict[str, str]) -> float:
    """Launch the probe; it prints the CLOCK_MONOTONIC time of the first paint, then quits."""
    launched = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gui_probe", f"unix://{engine.socket}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        if line.startswith(PAINTED + " "):
            return (float(line.split()[1]) - launched) * 1000
    tail = result.stderr.strip()[-2000:]
    raise RuntimeError(f"the desktop app exited {result.returncode} before painting:\n{tail}")


def run(engines: list[Engine], runs: int) -> list[Result]:
    doca = next((e for e in engines if e.name == "doca"), None)
    if doca is None:
        return []
    with tempfile.TemporaryDirectory(prefix="doca-bench-gui-") as tmp:
        os.chmod(tmp, 0o700)
        env = gui_env(Path(tmp))
        problem = offscreen_problem(env)
        if problem is not None:
            print(f"  skipped: Qt's offscreen platform does not load ({problem})")
            return []
        ids = [create(doca, ["true"]) for _ in range(CONTAINERS)]
        try:
            samples = interleave([doca], runs, lambda e: first_paint_ms(e, env))
        finally:
            remove(doca, ids)
    title = f"desktop app launch → containers table painted ({CONTAINERS} rows, offscreen)"
    return [Result(title, "ms", samples)]
