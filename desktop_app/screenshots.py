"""Render each panel of the desktop app with real data and save PNGs (for docs/screenshots).

    sudo .venv/bin/python -m desktop_app.screenshots --host unix:///run/doca/doca.sock

Runs on whatever Qt platform is set (``QT_QPA_PLATFORM=offscreen``, or a display such as
``xvfb-run``); the engine at ``--host`` supplies the data.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from desktop_app import aio
from desktop_app.desktop import DesktopApp
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.views.main_window import PAGES

SIZE = (1100, 650)


async def capture(host: str, out: Path, settle: float = 2.0) -> list[Path]:
    desktop = DesktopApp(EngineSupervisor(host, None, no_start_reason="screenshots"))
    desktop.start()
    desktop.show()
    window = desktop.window
    window.resize(*SIZE)
    await asyncio.sleep(settle)  # the stores load and the engine state settles
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    try:
        for page in PAGES:
            window.show_page(page)
            await asyncio.sleep(0.3)
            target = out / f"{page.lower()}.png"
            window.grab().save(str(target))
            saved.append(target)
    finally:
        await desktop.aclose()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="unix:///run/doca/doca.sock")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)

    async def run(app: QApplication) -> int:
        for path in await capture(args.host, args.out):
            print(path)
        return 0

    return aio.run(run)


if __name__ == "__main__":
    sys.exit(main())
