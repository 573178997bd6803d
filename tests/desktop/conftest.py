"""Fixtures of the desktop app's tests: Qt offscreen, a qasync loop pytest-qt can drive, and
prompts that answer by themselves."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import gc
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app import aio
from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.qt_none_guard import protect_none
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import run
from tests.support.engine import EngineProcess
from tests.support.testimage import TestImage

# PySide6 6.12.0 on Python 3.11 leaks references of None on every void Qt call (see the module).
protect_none()


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop on pytest-qt's application: asyncio work runs while ``qtbot.wait*``
    processes Qt events. Tasks still pending at the end are cancelled and waited for."""
    loop = aio.attach(qapp)
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        deadline = loop.time() + 5
        while any(not t.done() for t in pending) and loop.time() < deadline:
            qapp.processEvents()
        aio.detach(loop)
        # What the test left in reference cycles (widgets, models, tasks) is collected here,
        # on the Qt thread, rather than whenever a later test allocates, on whatever thread.
        gc.collect()


@pytest.fixture
def prompts() -> AnsweringPrompts:
    return AnsweringPrompts()


@pytest.fixture
def desktop(
    request: pytest.FixtureRequest,
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    engine: EngineProcess,
    prompts: AnsweringPrompts,
    loaded_busybox: TestImage,
) -> Iterator[DesktopApp]:
    """The app on the module's engine, showing the module's ``DESKTOP_PAGE``, once the engine
    runs and every store has loaded; closed afterwards."""
    app = DesktopApp(EngineSupervisor(engine.host, None), prompts=prompts)
    qtbot.addWidget(app.window)
    app.start()
    app.show()
    app.window.show_page(getattr(request.module, "DESKTOP_PAGE", "Containers"))
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=10_000)
    qtbot.waitUntil(lambda: all(s.loaded for s in app.session.stores), timeout=10_000)
    yield app
    run(qtbot, app.aclose())
