"""``EventLog``: the engine's events as they arrive (the event pump feeds it), the most recent
ones kept, and ``EventFilter``, which picks the rows the events view shows. Qt-free."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desktop_app.state.rows import short_id

log = logging.getLogger(__name__)

Listener = Callable[[], None]

# Attributes that name the actor better than its ID does, in order of preference.
_NAMING_ATTRIBUTES = ("name", "container", "image")


@dataclass(frozen=True)
class EventRow:
    key: str  # the arrival number: events have no ID of their own
    timestamp: float
    time: str
    type: str
    action: str
    actor: str  # the actor's name when the event gives one, else its short ID
    actor_id: str
    attributes: str  # "image=busybox, name=web"

    def haystack(self) -> str:
        """Everything the search box looks in, lower-cased."""
        parts = (self.type, self.action, self.actor, self.actor_id, self.attributes)
        return " ".join(parts).lower()


def event_time(event: dict[str, Any]) -> float:
    nano = event.get("timeNano")
    if nano:
        return int(nano) / 1e9
    return float(event.get("time") or 0)


def format_time(timestamp: float) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def event_row(number: int, event: dict[str, Any]) -> EventRow:
    actor = event.get("Actor") or {}
    actor_id = str(actor.get("ID") or event.get("id") or "")
    attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    name = next((attributes[a] for a in _NAMING_ATTRIBUTES if attributes.get(a)), "")
    timestamp = event_time(event)
    return EventRow(
        key=str(number),
        timestamp=timestamp,
        time=format_time(timestamp),
        type=str(event.get("Type") or ""),
        # Whole, as "exec_start: sh -c …"; filters compare its base_action.
        action=str(event.get("Action") or event.get("status") or ""),
        actor=name or short_id(actor_id),
        actor_id=actor_id,
        attributes=", ".join(f"{k}={v}" for k, v in sorted(attributes.items())),
    )


def base_action(action: str) -> str:
    """``exec_start`` of ``exec_start: sh -c …``, ``health_status`` of ``health_status: ok``."""
    return action.split(":", 1)[0].strip()


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[str] = field(default_factory=frozenset)  # empty: every type
    actions: frozenset[str] = field(default_factory=frozenset)  # base actions; empty: all
    text: str = ""  # words that must all appear, in any column

    def matches(self, row: EventRow) -> bool:
        if self.types and row.type not in self.types:
            return False
        if self.actions and base_action(row.action) not in self.actions:
            return False
        haystack = row.haystack()
        return all(word in haystack for word in self.text.lower().split())

    def apply(self, rows: Iterable[EventRow]) -> list[EventRow]:
        return [row for row in rows if self.matches(row)]


class EventLog:
    """The last ``capacity`` events, oldest first; listeners hear of every new one."""

    def __init__(self, capacity: int = 2000) -> None:
        self._rows: deque[EventRow] = deque(maxlen=capacity)
        self._count = 0
        self._listeners: list[Listener] = []
        self.types: set[str] = set()
        self.actions: set[str] = set()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def handle_event(self, event: dict[str, Any]) -> None:
        """The pump's handler: keep the event and tell the listeners."""
        self._count += 1
        row = event_row(self._count, event)
        self._rows.append(row)
        self.types.add(row.type)
        self.actions.add(base_action(row.action))
        self._notify()

    def rows(self, selection: EventFilter | None = None) -> list[EventRow]:
        return list(self._rows) if selection is None else selection.apply(self._rows)

    @property
    def received(self) -> int:
        """How many events arrived in all (older ones may have been dropped)."""
        return self._count

    def clear(self) -> None:
        self._rows.clear()
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("event log listener failed")
