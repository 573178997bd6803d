"""``RowTableModel``: a QAbstractTableModel over a list of frozen row objects with stable keys.

Updates are applied as removals, insertions and a re-ordering, not as a model reset, so the
selection and the current row survive every refresh (a refresh follows every action)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[R]):
    title: str
    text: Callable[[R], str]
    tooltip: Callable[[R], str] | None = None


class RowTableModel(QAbstractTableModel, Generic[R]):
    def __init__(self, columns: Sequence[Column[R]], key: Callable[[R], str]) -> None:
        super().__init__()
        self.columns = list(columns)
        self._key = key
        self._rows: list[R] = []

    # --- reading ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == Qt.ItemDataRole.UserRole:
            return self._key(row)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def rows(self) -> list[R]:
        return list(self._rows)

    def row_at(self, row: int) -> R:
        return self._rows[row]

    def row_of(self, key: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if self._key(r) == key), None)

    def column_texts(self, title: str) -> list[str]:
        """Every row's text in the column named ``title`` (handy for tests and filters)."""
        column = next(c for c in self.columns if c.title == title)
        return [column.text(row) for row in self._rows]

    # --- updating --------------------------------------------------------------------------

    def set_rows(self, new_rows: Sequence[R]) -> None:
        """Show ``new_rows`` (in that order), keeping the selection on rows that stay."""
        new_keys = [self._key(r) for r in new_rows]
        wanted = set(new_keys)
        for i in range(len(self._rows) - 1, -1, -1):
            if self._key(self._rows[i]) not in wanted:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        present = {self._key(r) for r in self._rows}
        added = [r for r in new_rows if self._key(r) not in present]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
        if [self._key(r) for r in self._rows] != new_keys:
            self._reorder(list(new_rows), new_keys)
        else:
            self._rows = list(new_rows)
        if self._rows:
            last = self.index(len(self._rows) - 1, len(self.columns) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def _reorder(self, new_rows: list[R], new_keys: list[str]) -> None:
        self.layoutAboutToBeChanged.emit()
        position = {key: i for i, key in enumerate(new_keys)}
        old_keys = [self._key(r) for r in self._rows]
        self._rows = new_rows
        persistent = self.persistentIndexList()
        moved = [
            self.index(position[old_keys[index.row()]], index.column())
            if index.row() < len(old_keys)
            else QModelIndex()
            for index in persistent
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()
