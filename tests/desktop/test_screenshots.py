"""The screenshot script renders every panel with data from a real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from desktop_app.views.main_window import PAGES
from tests.support.engine import DockerCLI, EngineProcess


def test_screenshots_of_every_panel(
    engine: EngineProcess, docker: DockerCLI, loaded_busybox: object, tmp_path: Path
) -> None:
    docker("run", "-d", "--name", "pictured", "busybox", "sleep", "300")
    try:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        result = subprocess.run(
            [sys.executable, "-m", "desktop_app.screenshots", "--host", engine.host,
             "--out", str(tmp_path)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        for page in PAGES:
            image = QImage(str(tmp_path / f"{page.lower()}.png"))
            assert (image.width(), image.height()) == (1100, 650), page
    finally:
        docker("rm", "-f", "pictured")
