"""``ProgressRow``: the line under a panel's toolbar that shows one long transfer (load, save,
export, import): what it does, a bar (busy while the total is unknown), and Cancel."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop_app.state.rows import human_size

BAR_STEPS = 1000


class ProgressRow(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.bar = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.task: asyncio.Future[Any] | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.hide()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, text: str, task: asyncio.Future[Any] | None = None) -> None:
        """Show ``text`` with a busy bar; Cancel (if ``task`` is given) cancels the task."""
        self.task = task
        if task is not None:
            task.add_done_callback(self._task_done)
        self.text.setText(text)
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel_button.setVisible(task is not None)
        self.show()

    def step(self, text: str, done: int, total: int = 0, estimate: bool = False) -> None:
        """``Saving x… 12.3MB of 40MB``: a bar when the total is known (or ``estimate``d: then
        the bar stops short of the end until ``finish``), busy otherwise."""
        if total > 0:
            top = BAR_STEPS - 10 if estimate else BAR_STEPS
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(min(round(done / total * BAR_STEPS), top))
            about = "about " if estimate else ""
            self.text.setText(f"{text} {human_size(done)} of {about}{human_size(total)}")
        else:
            self.bar.setRange(0, 0)
            self.text.setText(f"{text} {human_size(done)}")

    def finish(self, text: str) -> None:
        """The outcome, without bar or Cancel."""
        self.task = None
        self.text.setText(text)
        self.bar.hide()
        self.cancel_button.hide()
        self.show()

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        # A cancelled task reports to nobody: its row says so here.
        if task.cancelled() and task is self.task:
            self.finish(f"{self.text.text().split('…')[0]}: cancelled")

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
