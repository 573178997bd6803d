"""``EngineLogView``: the last lines the engine wrote, as the supervisor keeps them for an engine
the app started. Once followed, read again every second while the view is visible (the lines
are in memory; nothing is read from disk)."""

from __future__ import annotations

import asyncio

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.tasks import TaskOwner

TAIL_LINES = 200
NOT_OURS = (
    "The engine was not started by Doca Desktop, so its log is kept where it was started "
    "(its terminal, or the service's journal: journalctl -u doca-engine)."
)


class EngineLogView(QWidget):
    def __init__(
        self,
        supervisor: EngineSupervisor,
        tasks: TaskOwner,
        interval: float = 1.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._tasks = tasks
        self._interval = interval
        self._follower: asyncio.Task[None] | None = None
        self._shown: list[str] = []
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFont("monospace"))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.text, 1)

    def refresh(self) -> None:
        """Show the supervisor's lines now (only what changed is redrawn)."""
        lines = self._supervisor.log_tail(TAIL_LINES)
        if not lines and not self._supervisor.status.owned:
            self.note.setText(NOT_OURS)
        else:
            self.note.setText(f"The last {len(lines)} lines of the engine's output")
        if lines == self._shown:
            return
        bar = self.text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        if lines[: len(self._shown)] == self._shown and self._shown:
            for line in lines[len(self._shown) :]:
                self.text.appendPlainText(line)
        else:
            self.text.setPlainText("\n".join(lines))
        self._shown = lines
        if at_bottom:
            bar.setValue(bar.maximum())

    def plain_text(self) -> str:
        return self.text.toPlainText()

    def follow(self) -> asyncio.Task[None]:
        """Refresh now and every interval while the view is visible, until the task owner
        closes. An asyncio task rather than a QTimer: the owner cancels it before the widgets
        go, whichever thread Python frees them in."""
        if self._follower is None or self._follower.done():
            self._follower = self._tasks.spawn(self._follow(), name="engine-log")
        return self._follower

    async def _follow(self) -> None:
        while True:
            if self.isVisible():
                self.refresh()
            await asyncio.sleep(self._interval)
