"""Waiting for asyncio work from a pytest-qt test: ``qtbot.waitUntil`` processes Qt events,
which is what runs the qasync loop's callbacks."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pytestqt.qtbot import QtBot

T = TypeVar("T")


def finish(qtbot: QtBot, task: asyncio.Future[T] | None, timeout: float = 10.0) -> T:
    """Process events until ``task`` is done; its result (or its exception, raised)."""
    assert task is not None, "the action did not start a task"
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


def run(qtbot: QtBot, coro: Any, timeout: float = 10.0) -> Any:
    """Run a coroutine on the test's qasync loop and wait for it."""
    return finish(qtbot, asyncio.ensure_future(coro), timeout)
