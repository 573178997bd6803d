"""``InspectView``: `docker inspect` of one container as an expandable tree (key, value, type),
filtered as the user types, with the whole document one click away on the clipboard."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qtmodels.json_tree import JsonFilterProxy, JsonTreeModel
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import problem_label, show_problem
from desktop_app.views.prompts import failure_text
from doca.client import EngineClient


class InspectView(QWidget):
    def __init__(
        self,
        client: EngineClient,
        container_id: str,
        tasks: TaskOwner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._container_id = container_id
        self._tasks = tasks
        self.task: asyncio.Task[None] | None = None
        self.model = JsonTreeModel(self)
        self.proxy = JsonFilterProxy(self.model, self)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter keys and values")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.set_filter)
        self.copy_button = QPushButton("Copy JSON")
        self.copy_button.clicked.connect(self.copy_json)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.load)
        self.problem = problem_label()
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.problem)
        layout.addWidget(self.tree, 1)

    @property
    def loaded(self) -> bool:
        return bool(self.model.root.children)

    def load(self) -> asyncio.Task[None]:
        """Read the inspect document (again) and show it."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = self._tasks.spawn(self._load(), name="inspect", on_error=self._failed)
        return self.task

    async def _load(self) -> None:
        self.show_document(await self._client.containers.inspect(self._container_id))

    def _failed(self, exc: BaseException) -> None:
        show_problem(self.problem, f"Cannot inspect the container: {failure_text(exc)}")

    def show_document(self, document: Any) -> None:
        self.problem.hide()
        self.model.set_document(document)
        self._expand()

    def set_filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self._expand()

    def _expand(self) -> None:
        # Unfiltered, the top level is enough; filtered, every match should be in sight.
        if self.proxy.text.strip():
            self.tree.expandAll()
        else:
            self.tree.collapseAll()

    def copy_json(self) -> str:
        """Put the whole inspect document on the clipboard, indented; the text."""
        text = self.model.root.to_json()
        QGuiApplication.clipboard().setText(text)
        return text

    def visible_rows(self) -> list[tuple[str, str]]:
        """(key, value) of every row the tree shows at the top level."""
        rows = []
        for row in range(self.proxy.rowCount()):
            key = self.proxy.index(row, 0).data()
            value = self.proxy.index(row, 1).data()
            rows.append((str(key), str(value)))
        return rows
