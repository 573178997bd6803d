"""The Events page: the Qt-free event log and its filter, the live view against a real engine
driven by the docker CLI, and the engine-log tab with an engine the app started itself."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.event_log import EventFilter, EventLog, event_row
from desktop_app.tasks import TaskOwner
from desktop_app.views.engine_log_view import NOT_OURS, EngineLogView
from desktop_app.views.events_view import ALL_TYPES
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import run
from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage

FAKE_ENGINE = str(Path(__file__).with_name("fake_engine.py"))


def event(kind: str, action: str, actor: str, **attributes: str) -> dict[str, Any]:
    return {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": actor, "Attributes": attributes},
        "time": 1704067200,
        "timeNano": 1704067200_123456789,
    }


# --- the log and its filter (Qt-free) -------------------------------------------------------


def test_event_rows_name_the_actor() -> None:
    row = event_row(1, event("container", "create", "a" * 64, name="web", image="busybox"))
    assert (row.type, row.action, row.actor, row.actor_id) == (
        "container",
        "create",
        "web",
        "a" * 64,
    )
    assert row.attributes == "image=busybox, name=web"
    assert row.time.endswith(".123") and row.timestamp == pytest.approx(1704067200.123456789)
    nameless = event_row(2, event("network", "connect", "b" * 64))
    assert nameless.actor == "b" * 12 and nameless.attributes == ""
    legacy = event_row(3, {"status": "pull", "id": "busybox:latest", "Type": "image", "time": 5})
    assert (legacy.action, legacy.actor_id, legacy.timestamp) == ("pull", "busybox:latest", 5.0)


def test_filters_by_type_action_and_words() -> None:
    log = EventLog()
    log.handle_event(event("container", "create", "1" * 64, name="web"))
    log.handle_event(event("container", "exec_start: sh -c ls", "1" * 64, name="web"))
    log.handle_event(event("image", "pull", "busybox:latest", name="busybox"))
    log.handle_event(event("volume", "create", "data", driver="local"))

    def actors(selection: EventFilter) -> list[str]:
        return [row.actor for row in log.rows(selection)]

    assert actors(EventFilter()) == ["web", "web", "busybox", "data"]
    assert actors(EventFilter(types=frozenset({"container"}))) == ["web", "web"]
    assert actors(EventFilter(actions=frozenset({"create"}))) == ["web", "data"]
    assert actors(EventFilter(actions=frozenset({"exec_start"}))) == ["web"]
    assert actors(EventFilter(text="DRIVER=local")) == ["data"]
    assert actors(EventFilter(text="busy pull")) == ["busybox"]
    assert actors(EventFilter(types=frozenset({"image"}), text="web")) == []
    assert log.types == {"container", "image", "volume"}
    assert log.actions == {"create", "exec_start", "pull"}


def test_the_log_keeps_the_latest_and_tells_listeners() -> None:
    log = EventLog(capacity=3)
    heard: list[int] = []
    log.add_listener(lambda: heard.append(len(log.rows())))
    for n in range(5):
        log.handle_event(event("container", "start", f"{n}" * 64, name=f"c{n}"))
    assert [r.actor for r in log.rows()] == ["c2", "c3", "c4"]
    assert log.received == 5 and heard == [1, 2, 3, 3, 3]
    log.clear()
    assert log.rows() == [] and heard[-1] == 0


# --- the page against a real engine ---------------------------------------------------------


@pytest.fixture
def desktop(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, engine: EngineProcess, prompts: AnsweringPrompts
) -> Iterator[DesktopApp]:
    app = DesktopApp(EngineSupervisor(engine.host, None), prompts=prompts)
    qtbot.addWidget(app.window)
    app.start()
    app.show()
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=10_000)
    qtbot.waitUntil(lambda: app.session.pump.connected, timeout=10_000)
    yield app
    run(qtbot, app.aclose())


@pytest.mark.e2e
def test_a_cli_container_create_shows_up_live(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, loaded_busybox: TestImage
) -> None:
    desktop.window.show_page("Events")
    pane = desktop.window.events.events
    model = pane.model
    docker("create", "--name", "ev-made", "busybox", "true")
    try:
        started = time.monotonic()

        def created() -> bool:
            rows = model.rows()
            return any(r.action == "create" and r.actor == "ev-made" for r in rows)

        qtbot.waitUntil(created, timeout=2000)
        assert time.monotonic() - started < 2.0
        row = next(r for r in model.rows() if r.actor == "ev-made")
        assert row.type == "container" and "image=busybox" in row.attributes
        assert len(row.actor_id) == 64 and row.time

        pane.type_box.setCurrentText("image")
        assert "ev-made" not in model.column_texts("Actor")
        pane.type_box.setCurrentText(ALL_TYPES)
        pane.action_box.setCurrentText("create")
        pane.search_edit.setText("ev-made")
        assert model.column_texts("Actor") == ["ev-made"]
        assert model.column_texts("Action") == ["create"]
        assert pane.action_box.findText("create") >= 0  # seen actions become choices
        assert pane.count_label.text().startswith("1 of ")

        docker("rm", "ev-made")
        qtbot.waitUntil(lambda: "destroy" in desktop.session.events.actions, timeout=2000)
        assert model.column_texts("Action") == ["create"]  # still filtered
        pane.action_box.setCurrentText("")
        qtbot.waitUntil(lambda: model.column_texts("Action") == ["create", "destroy"], timeout=2000)
    finally:
        docker("rm", "-f", "ev-made", check=False)

    assert not desktop.window.events.engine_log.isVisible()  # its tab is not the current one
    desktop.window.events.setCurrentWidget(desktop.window.events.engine_log)
    qtbot.waitUntil(lambda: desktop.window.events.engine_log.note.text() == NOT_OURS, timeout=3000)


# --- the engine log ------------------------------------------------------------------------


def test_the_engine_log_of_an_engine_the_app_started(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop
) -> None:
    root = short_root()
    argv = [sys.executable, FAKE_ENGINE, str(root / "doca.sock")]
    supervisor = EngineSupervisor(f"unix://{root}/doca.sock", argv, stop_timeout=5)
    tasks = TaskOwner("test-engine-log")
    view = EngineLogView(supervisor, tasks, interval=0.05)
    qtbot.addWidget(view)
    try:
        supervisor.start()
        qtbot.waitUntil(lambda: supervisor.status.state is EngineState.RUNNING, timeout=10_000)
        view.show()
        view.follow()
        qtbot.waitUntil(lambda: "fake engine listening" in view.plain_text(), timeout=3000)
        assert "fake engine" in view.plain_text().splitlines()[0]
        assert view.note.text().startswith("The last 2 lines")
        run(qtbot, supervisor.stop(), timeout=10)
        qtbot.waitUntil(lambda: "stopping on SIGTERM" in view.plain_text(), timeout=3000)
    finally:
        run(qtbot, tasks.aclose())
        run(qtbot, supervisor.aclose(), timeout=10)
        shutil.rmtree(root, ignore_errors=True)
