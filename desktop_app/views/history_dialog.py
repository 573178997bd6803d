"""``HistoryDialog``: an image's layers, newest first — the step that made each one and its
size — loaded as a task when the dialog opens."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qtmodels.history import HistoryModel
from desktop_app.state.image_details import HistoryRow, history_rows
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import close_buttons
from desktop_app.views.prompts import error_text
from doca.client import EngineClient


class HistoryDialog(QDialog):
    def __init__(
        self, client: EngineClient, tasks: TaskOwner, image: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"History of {image}")
        self.resize(900, 420)
        self._client = client
        self._tasks = tasks
        self.image = image
        self.task: asyncio.Task[list[HistoryRow]] | None = None
        self.model = HistoryModel()
        self.header = QLabel(f"Loading the history of {image}…")
        self.header.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # "Created by"
        self.table.setWordWrap(False)
        buttons = close_buttons(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def load(self) -> asyncio.Task[list[HistoryRow]]:
        self.task = self._tasks.spawn(self._load(), name="image-history", on_error=self._failed)
        return self.task

    async def _load(self) -> list[HistoryRow]:
        rows = history_rows(await self._client.images.history(self.image))
        self.model.set_rows(rows)
        self.header.setText(f"{self.image}: {len(rows)} steps, newest first")
        return rows

    def _failed(self, exc: BaseException) -> None:
        self.header.setText(f"Cannot show the history of {self.image}: {error_text(exc)}")

    def reject(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        super().reject()
