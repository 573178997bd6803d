"""``EventsModel``: the rows of the event log that pass the view's filter, oldest first. A burst
of events (a `compose up`) is shown in one update, not one per event. Give it a parent: its
timer must be deleted by Qt on the GUI thread, not by Python's collector on any thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from desktop_app.qtmodels.row_model import Column, RowTableModel
from desktop_app.state.event_log import EventFilter, EventLog, EventRow

EVENT_COLUMNS: list[Column[EventRow]] = [
    Column("Time", lambda r: r.time),
    Column("Type", lambda r: r.type),
    Column("Action", lambda r: r.action),
    Column("Actor", lambda r: r.actor, lambda r: r.actor_id),
    Column("Attributes", lambda r: r.attributes, lambda r: r.attributes.replace(", ", "\n")),
]


class EventsModel(RowTableModel[EventRow]):
    def __init__(self, log: EventLog, coalesce_ms: int = 50, parent: QObject | None = None) -> None:
        super().__init__(EVENT_COLUMNS, key=lambda r: r.key)
        if parent is not None:
            self.setParent(parent)
        self._log = log
        self.selection = EventFilter()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(coalesce_ms)
        self._timer.timeout.connect(self.reload)
        log.add_listener(self._timer.start)
        self.reload()

    def set_filter(self, selection: EventFilter) -> None:
        self.selection = selection
        self.reload()

    def reload(self) -> None:
        self.set_rows(self._log.rows(self.selection))
