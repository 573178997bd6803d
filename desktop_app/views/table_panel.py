"""``TablePanel``: what every list panel has — a toolbar, a table over a ``RowTableModel``, a
line that shows the store's load error, and helpers for the selected rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qtmodels.row_model import RowTableModel
from desktop_app.state.store import ResourceStore
from desktop_app.views.form_parts import problem_label, show_problem

R = TypeVar("R")


class TablePanel(QWidget, Generic[R]):
    def __init__(
        self, model: RowTableModel[R], store: ResourceStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._store = store
        self.toolbar = QToolBar()
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.error_line = problem_label(word_wrap=False)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.addWidget(self.toolbar)
        self.layout_.addWidget(self.error_line)
        self.layout_.addWidget(self.table)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        model.modelReset.connect(self._selection_changed)
        model.dataChanged.connect(self._selection_changed)
        store.add_listener(self._store_changed)

    def add_action(self, text: str, handler: Callable[[], object], tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip or text)
        action.triggered.connect(lambda: handler())
        self.toolbar.addAction(action)
        return action

    def add_menu_button(
        self, text: str, entries: Sequence[tuple[str, Callable[[], object]]]
    ) -> QToolButton:
        """A toolbar button that opens a menu of ``entries`` (text, handler) at once."""
        menu = QMenu(self)
        for entry, handler in entries:
            menu.addAction(entry).triggered.connect(handler)
        button = QToolButton()
        button.setText(text)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(button)
        return button

    def selected_rows(self) -> list[R]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.row_at(row) for row in rows if row < self.model.rowCount()]

    def select_key(self, key: str) -> bool:
        """Select the row with this key (e.g. a container ID); False if it is not listed."""
        row = self.model.row_of(key)
        if row is None:
            return False
        self.table.selectRow(row)
        return True

    def update_actions(self) -> None:
        """Enable the toolbar's actions for the current selection; panels override it."""

    def _selection_changed(self, *_args: object) -> None:
        self.update_actions()

    def _store_changed(self) -> None:
        error = self._store.error
        show_problem(self.error_line, f"Cannot list: {error}" if error is not None else "")
