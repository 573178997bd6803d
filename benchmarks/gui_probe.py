"""Start the desktop app on a running engine, as ``doca-desktop --no-start-engine --host HOST``
does, print ``first-paint <CLOCK_MONOTONIC seconds>`` once the containers table has painted
rows, and quit: ``python -m benchmarks.gui_probe HOST``. The app itself is not changed; an event
filter on the table's viewport sees its paint events."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop_app import aio
from desktop_app.desktop import DesktopApp
from desktop_app.main import make_supervisor, parse_args

PAINTED = "first-paint"


class FirstPaint(QObject):
    """Reports the first paint of the containers table that shows rows, then asks to quit."""

    def __init__(self, desktop: DesktopApp) -> None:
        super().__init__(desktop.window)  # the window keeps it alive
        self._desktop = desktop
        self._seen = False
        desktop.window.containers.table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            not self._seen
            and event.type() == QEvent.Type.Paint
            and self._desktop.window.containers.model.rowCount() > 0
        ):
            self._seen = True
            # Queued: it runs once this paint event has been handled, i.e. painted.
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        print(f"{PAINTED} {time.monotonic():.6f}", flush=True)
        self._desktop.quit_requested.set()


async def probe(app: QApplication, host: str) -> int:
    desktop = DesktopApp(make_supervisor(parse_args(["--no-start-engine", "--host", host])))
    FirstPaint(desktop)
    aio.on_quit_signals(desktop.quit_requested.set)
    desktop.start()
    desktop.show()
    await desktop.run_until_quit()
    return 0


def main(argv: list[str]) -> int:
    return aio.run(lambda app: probe(app, argv[1]), argv[:1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
