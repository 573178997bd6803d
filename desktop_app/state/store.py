"""``ResourceStore``: one kind of engine object (containers, images, volumes), loaded with a list
call and reloaded — debounced — when an event says that kind changed. Qt-free."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from desktop_app.tasks import TaskOwner
from doca.client import EngineError

log = logging.getLogger(__name__)

Row = dict[str, Any]
Listener = Callable[[], None]


class ResourceStore:
    """The rows of one list call, the last load error, and listeners told of every change."""

    #: the ``Type`` of the events that concern this store
    event_type: ClassVar[str]
    #: actions of that type that do not change what the list call returns
    ignored_actions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, debounce: float = 0.2) -> None:
        self.rows: list[Row] = []
        self.loaded = False
        self.error: str | None = None
        self._debounce = debounce
        self._listeners: list[Listener] = []
        self._tasks = TaskOwner(type(self).__name__)
        self._lock = asyncio.Lock()
        self._dirty = False
        self._refresher: asyncio.Task[None] | None = None

    async def fetch(self) -> list[Row]:
        """The list call; subclasses implement it."""
        raise NotImplementedError

    def key(self, row: Row) -> str:
        return str(row.get("Id", ""))

    def find(self, key: str) -> Row | None:
        return next((row for row in self.rows if self.key(row) == key), None)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change of rows or error; returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def concerns(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` may change this store's rows."""
        action = str(event.get("Action", "")).split(":", 1)[0]
        return event.get("Type") == self.event_type and action not in self.ignored_actions

    def handle_event(self, event: dict[str, Any]) -> None:
        if self.concerns(event):
            self.schedule_refresh()

    async def refresh(self) -> None:
        """Reload now. An engine error is kept in ``error`` (the old rows stay) and reported."""
        async with self._lock:
            try:
                rows = await self.fetch()
            except EngineError as exc:
                self.error = exc.message
            else:
                self.rows, self.error, self.loaded = rows, None, True
        self._notify()

    def schedule_refresh(self, delay: float | None = None) -> None:
        """Reload after ``delay`` (the debounce by default); requests in the meantime merge."""
        self._dirty = True
        if self._refresher is None or self._refresher.done():
            wait = self._debounce if delay is None else delay
            self._refresher = self._tasks.spawn(self._refresh_soon(wait), name="refresh")

    async def _refresh_soon(self, delay: float) -> None:
        while self._dirty:
            await asyncio.sleep(delay)
            self._dirty = False
            await self.refresh()
            delay = self._debounce

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("%s listener failed", type(self).__name__)

    async def aclose(self) -> None:
        await self._tasks.aclose()
