"""``JsonTreeModel``: a JSON document (a ``JsonNode`` tree) as a three-column tree — key, value,
type — and ``JsonFilterProxy``, which shows what ``visible_nodes`` lets through."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from desktop_app.state.json_tree import JsonNode, build_tree, visible_nodes

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Key", "Value", "Type")


class JsonTreeModel(QAbstractItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = build_tree({})

    def set_document(self, document: Any) -> None:
        self.beginResetModel()
        self.root = build_tree(document)
        self.endResetModel()

    def node(self, index: Index) -> JsonNode:
        """The node of ``index`` (the root for an invalid index)."""
        if not index.isValid():
            return self.root
        node = index.internalPointer()
        assert isinstance(node, JsonNode)
        return node

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        children = self.node(parent).children
        if not 0 <= row < len(children) or not 0 <= column < len(COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        parent = self.node(index).parent
        if parent is None or parent is self.root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return (node.key, node.text, node.type)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return node.path
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None


class JsonFilterProxy(QSortFilterProxyModel):
    """Rows whose key or value contains the filter text, with their ancestors (to reach them)
    and descendants (to see what matched)."""

    def __init__(self, source: JsonTreeModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self._source = source
        self._text = ""
        self._shown: set[JsonNode] | None = None  # None: everything
        source.modelReset.connect(self._recompute)

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._recompute()

    def _recompute(self) -> None:
        needle = self._text.strip()
        self._shown = visible_nodes(self._source.root, needle) if needle else None
        self.invalidate()  # invalidateFilter() is deprecated from Qt 6.10 on

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if self._shown is None:
            return True
        parent = self._source.node(source_parent)
        if not 0 <= source_row < len(parent.children):
            return False
        return parent.children[source_row] in self._shown
