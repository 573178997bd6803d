"""``EventPump``: the one task that reads the engine's ``/events`` stream and hands each event to
the stores. When the engine comes back after being unreachable, every store reloads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from desktop_app.tasks import TaskOwner
from doca.client import EngineClient, EngineError

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]


class EventPump:
    """Reads ``/events`` until closed; on every (re)connection calls ``on_connect`` first."""

    def __init__(
        self,
        client: EngineClient,
        on_connect: Callable[[], None],
        retry_delays: Sequence[float] = (0.2, 0.5, 1.0, 2.0),
    ) -> None:
        self._client = client
        self._on_connect = on_connect
        self._retry_delays = tuple(retry_delays)
        self._handlers: list[EventHandler] = []
        self._tasks = TaskOwner("event-pump")
        self._wake = asyncio.Event()
        self.connected = False

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    def start(self) -> None:
        self._tasks.spawn(self._run(), name="events")

    def kick(self) -> None:
        """Retry a lost connection now rather than after the back-off (the engine is back)."""
        self._wake.set()

    async def aclose(self) -> None:
        await self._tasks.aclose()

    async def _run(self) -> None:
        failures = 0
        while True:
            # Events are asked for from before the lists are loaded, so none falls in between.
            since = time.time()
            if await self._answers():
                self.connected = True
                failures = 0
                self._on_connect()
                try:
                    async for event in self._client.events(since=since):
                        self._dispatch(event)
                except EngineError as exc:
                    log.info("event stream ended: %s", exc.message)
                except Exception:  # e.g. a broken chunked answer: reconnect all the same
                    log.warning("event stream failed", exc_info=True)
                self.connected = False
            failures += 1
            await self._sleep(self._retry_delays[min(failures, len(self._retry_delays)) - 1])

    # asyncio.timeout rather than wait_for: on Python 3.11 wait_for can swallow a cancel that
    # arrives as the awaited call finishes, and the pump would then never stop.
    async def _answers(self) -> bool:
        try:
            async with asyncio.timeout(5.0):
                return await self._client.ping()
        except TimeoutError:
            return False

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    def _dispatch(self, event: dict[str, Any]) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed for %s", event)
