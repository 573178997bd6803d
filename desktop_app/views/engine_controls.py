"""``EngineControls``: the Start/Stop/Restart engine actions (shared by the window's menu and
the tray), kept enabled or not by the supervisor's state and named with its mode ("Start
engine (rootless)"), and the state's icon."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import ErrorReporter

STATE_COLOURS = {
    EngineState.RUNNING: "#2e9e44",
    EngineState.STARTING: "#e0a000",
    EngineState.STOPPING: "#e0a000",
    EngineState.STOPPED: "#8a8a8a",
    EngineState.ERROR: "#c62828",
}

_icons: dict[EngineState, QIcon] = {}


def state_icon(state: EngineState) -> QIcon:
    """A filled circle in the state's colour (drawn, so no image files are needed)."""
    if state not in _icons:
        pixmap = QPixmap(64, 64)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(STATE_COLOURS[state]))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(6, 6, 52, 52)
        painter.end()
        _icons[state] = QIcon(pixmap)
    return _icons[state]


class EngineControls(QObject):
    def __init__(
        self, supervisor: EngineSupervisor, tasks: TaskOwner, report: ErrorReporter
    ) -> None:
        super().__init__()
        self.supervisor = supervisor
        self._tasks = tasks
        self._report = report
        self.start_action = QAction("Start engine", self)
        self.stop_action = QAction("Stop engine", self)
        self.restart_action = QAction("Restart engine", self)
        self.start_action.triggered.connect(lambda: self.start())
        self.stop_action.triggered.connect(lambda: self.stop())
        self.restart_action.triggered.connect(lambda: self.restart())
        self._listeners: list[Callable[[EngineStatus], None]] = []
        supervisor.add_listener(self._status_changed)
        self._status_changed(supervisor.status)

    def on_status(self, listener: Callable[[EngineStatus], None]) -> None:
        """Call ``listener`` now and on every change (after the actions are updated)."""
        self._listeners.append(listener)
        listener(self.supervisor.status)

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> asyncio.Task[None]:
        return self._spawn(self.supervisor.stop, "Could not stop the engine")

    def restart(self) -> asyncio.Task[None]:
        return self._spawn(self.supervisor.restart, "Could not restart the engine")

    def _spawn(self, command: Callable[[], Awaitable[None]], title: str) -> asyncio.Task[None]:
        async def run() -> None:
            await command()

        return self._tasks.spawn(run(), name=title, on_error=self._report.handler(title))

    def _status_changed(self, status: EngineStatus) -> None:
        state = status.state
        idle = state in (EngineState.STOPPED, EngineState.ERROR)
        owned = self.supervisor.owns_engine
        named = f" ({status.mode})" if status.mode else ""
        self.start_action.setText(f"Start engine{named}")
        self.restart_action.setText(f"Restart engine{named}")
        self.start_action.setEnabled(idle)
        self.stop_action.setEnabled(owned and not idle and state is not EngineState.STOPPING)
        self.restart_action.setEnabled(owned and state is EngineState.RUNNING)
        for listener in list(self._listeners):
            listener(status)
