"""``EnginesDialog``: the engines the app can manage (its local engine and the docker CLI's
contexts), whether each answers, its version and running containers; "Use" switches the whole
app — every panel, the tray, the events — to the chosen engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.state.engines import Engine, list_engines, probe_engines
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import close_buttons, records_table

COLUMNS = ("Name", "Endpoint", "State", "Version", "Running", "In use")


class EnginesDialog(QDialog):
    def __init__(
        self,
        tasks: TaskOwner,
        local_host: str,
        current_host: str,
        on_switch: Callable[[str], object],
        config_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Engines")
        self.resize(760, 320)
        self._tasks = tasks
        self._local_host = local_host
        self._current_host = current_host
        self._on_switch = on_switch
        self._config_dir = config_dir
        self.engines: list[Engine] = []
        self.task: asyncio.Task[list[Engine]] | None = None
        self.summary = QLabel()
        self.table = records_table(COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.use_selected())
        self.use_button = QPushButton("Use")
        self.use_button.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        self.use_button.clicked.connect(self.use_selected)
        self.refresh_button.clicked.connect(self.refresh)
        buttons = close_buttons(self.reject, self.use_button, self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def refresh(self) -> asyncio.Task[list[Engine]] | None:
        """List the engines at once, then ask each whether it answers."""
        if self.task is not None and not self.task.done():
            return None
        self.refresh_button.setEnabled(False)
        self.task = self._tasks.spawn(self._load(), name="engines")
        return self.task

    async def _load(self) -> list[Engine]:
        try:
            self._show(await asyncio.to_thread(list_engines, self._local_host, self._config_dir))
            self.summary.setText("Asking each engine…")
            probed = await probe_engines(self.engines)
        finally:
            self.refresh_button.setEnabled(True)
        self._show(probed)
        up = sum(1 for engine in probed if engine.state and engine.state.reachable)
        self.summary.setText(f"{up} of {len(probed)} engines answer")
        return probed

    def _show(self, engines: list[Engine]) -> None:
        self.engines = engines
        self.table.setRowCount(len(engines))
        for row, engine in enumerate(engines):
            state = engine.state
            running = "" if state is None or state.running is None else str(state.running)
            cells = (engine.name, engine.host, engine.state_text,
                     state.version if state else "", running,
                     "yes" if engine.host == self._current_host else "")  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0 and engine.description:
                    item.setToolTip(engine.description)
                self.table.setItem(row, column, item)
        self._selection_changed()

    def selected(self) -> Engine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.engines[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        engine = self.selected()
        self.use_button.setEnabled(engine is not None and engine.host != self._current_host)

    def use_selected(self) -> str | None:
        """Switch the app to the selected engine (the app reconnects everything to it)."""
        engine = self.selected()
        if engine is None or engine.host == self._current_host:
            return None
        self._on_switch(engine.host)
        self.accept()
        return engine.host

    def column_texts(self, title: str) -> list[str]:
        column = COLUMNS.index(title)
        return [(self.table.item(row, column) or QTableWidgetItem()).text()
                for row in range(self.table.rowCount())]  # fmt: skip
