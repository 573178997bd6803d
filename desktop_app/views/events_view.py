"""``EventsView``: the engine's event stream live — time, type, action, actor — filtered by type
and action and searched, in one tab; the engine's own log in a second."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.qtmodels.events import EventsModel
from desktop_app.state.event_log import EventFilter, EventLog
from desktop_app.tasks import TaskOwner
from desktop_app.views.engine_log_view import EngineLogView

ALL_TYPES = "All types"
# The types dockerd reports on one engine; others are added as they are seen.
KNOWN_TYPES = ("container", "image", "volume", "network", "daemon", "builder")


class EventsPane(QWidget):
    def __init__(self, log: EventLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._log = log
        self.model = EventsModel(log, parent=self)  # deleted with the pane, by Qt
        self.type_box = QComboBox()
        self.type_box.addItems([ALL_TYPES, *KNOWN_TYPES])
        self.action_box = QComboBox()
        self.action_box.setEditable(True)
        self.action_box.addItem("")  # "any action": adding choices never changes the filter
        self.action_box.setMinimumWidth(160)
        action_edit = self.action_box.lineEdit()
        if action_edit is not None:
            action_edit.setPlaceholderText("any action (create, die …)")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search names, IDs, attributes")
        self.search_edit.setClearButtonEnabled(True)
        self.clear_button = QPushButton("Clear")
        self.count_label = QLabel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # one line per event; the tooltip has every attribute
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Type"))
        filters.addWidget(self.type_box)
        filters.addWidget(QLabel("Action"))
        filters.addWidget(self.action_box)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        self.type_box.currentTextChanged.connect(self._filter_changed)
        self.action_box.currentTextChanged.connect(self._filter_changed)
        self.search_edit.textChanged.connect(self._filter_changed)
        self.clear_button.clicked.connect(log.clear)
        self.model.rowsAboutToBeInserted.connect(self._remember_scroll)
        self.model.rowsInserted.connect(self._follow)
        self.model.layoutChanged.connect(self._show_count)
        self.model.rowsInserted.connect(self._show_count)
        self.model.rowsRemoved.connect(self._show_count)
        self._at_bottom = True
        self._show_count()

    def current_filter(self) -> EventFilter:
        kind = self.type_box.currentText()
        actions = self.action_box.currentText().replace(",", " ").split()
        return EventFilter(
            types=frozenset() if kind == ALL_TYPES else frozenset({kind}),
            actions=frozenset(actions),
            text=self.search_edit.text(),
        )

    def _filter_changed(self, *_args: object) -> None:
        self.model.set_filter(self.current_filter())
        self._show_count()

    def _remember_scroll(self, *_args: object) -> None:
        bar = self.table.verticalScrollBar()
        self._at_bottom = bar.value() >= bar.maximum() - 2

    def _follow(self, *_args: object) -> None:
        # New events scroll into view unless the user scrolled up to read older ones.
        self._offer_seen()
        if self._at_bottom:
            self.table.scrollToBottom()

    def _offer_seen(self) -> None:
        """New types and actions become choices of the filter boxes."""
        types = [self.type_box.itemText(i) for i in range(self.type_box.count())]
        for kind in sorted(self._log.types - set(types)):
            self.type_box.addItem(kind)
        actions = {self.action_box.itemText(i) for i in range(self.action_box.count())}
        for action in sorted(self._log.actions - actions - {""}):
            self.action_box.addItem(action)

    def _show_count(self, *_args: object) -> None:
        shown, kept = self.model.rowCount(), len(self._log.rows())
        self.count_label.setText(f"{shown} of {kept} events shown")


class EventsView(QTabWidget):
    def __init__(
        self,
        log: EventLog,
        supervisor: EngineSupervisor,
        tasks: TaskOwner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.events = EventsPane(log)
        self.engine_log = EngineLogView(supervisor, tasks)
        self.addTab(self.events, "Events")
        self.addTab(self.engine_log, "Engine log")
        self.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, index: int) -> None:
        if self.widget(index) is self.engine_log:
            self.engine_log.follow()
