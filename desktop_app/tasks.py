"""``TaskOwner``: the owner every background asyncio task of the app belongs to.

Each component that starts tasks holds one owner and closes it when the component goes away, so
no task outlives the thing that started it and no failure disappears unseen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
ErrorHandler = Callable[[BaseException], None]


class TaskOwner:
    """A set of tasks that is cancelled together; failures go to a handler or the log."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str | None = None,
        on_error: ErrorHandler | None = None,
    ) -> asyncio.Task[T]:
        """Start ``coro`` as a task owned here; an exception goes to ``on_error`` (else logged)."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name}: cannot start tasks after close")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name or ''}")
        self._tasks.add(task)

        def finished(done: asyncio.Task[T]) -> None:
            self._tasks.discard(done)
            if done.cancelled():
                return
            exc = done.exception()
            if exc is None:
                return
            if on_error is not None:
                on_error(exc)
            else:
                log.error("task %s failed", done.get_name(), exc_info=exc)

        task.add_done_callback(finished)
        return task

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have all finished."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel everything; no new task may be started afterwards."""
        self._closed = True
        await self.cancel_all()
