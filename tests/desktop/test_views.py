"""The window, panels, dialogs and tray against the fake client, on a qasync loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState
from desktop_app.engine_supervisor import EngineSupervisor
from doca.client import Conflict
from tests.desktop.fakes import AnsweringPrompts, FakeEngineClient, container
from tests.desktop.qtwait import finish, run

WEB, DB = "a" * 64, "b" * 64


@pytest.fixture
def fake() -> FakeEngineClient:
    fake = FakeEngineClient()
    fake.containers.rows = [container(WEB, "web"), container(DB, "db", state="exited")]
    fake.containers.logs_text[WEB] = b"hello from web\n"
    fake.images.rows = [{"Id": "sha256:" + "b" * 64, "RepoTags": ["busybox:latest"], "Size": 9}]
    return fake


@pytest.fixture
def desktop(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    fake: FakeEngineClient,
    prompts: AnsweringPrompts,
) -> Iterator[DesktopApp]:
    supervisor = EngineSupervisor(fake.host, None, ping=fake.ping)
    app = DesktopApp(supervisor, prompts=prompts, client=fake)  # type: ignore[arg-type]
    qtbot.addWidget(app.window)
    app.start()
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=5000)
    qtbot.waitUntil(lambda: app.window.containers.model.rowCount() == 2, timeout=5000)
    yield app
    run(qtbot, app.aclose())


def select(desktop: DesktopApp, name: str) -> None:
    panel = desktop.window.containers
    row = panel.model.column_texts("Name").index(name)
    panel.table.selectRow(row)


def test_status_bar_and_tray_show_the_engine(desktop: DesktopApp) -> None:
    assert desktop.window.engine_label.text().startswith("Engine: running")
    assert desktop.tray.state_action.text().startswith("Engine: running")
    assert not desktop.engine.stop_action.isEnabled()  # not started by the app


def test_actions_follow_the_selected_containers_state(qtbot: QtBot, desktop: DesktopApp) -> None:
    panel = desktop.window.containers
    assert not panel.verb_actions["stop"].isEnabled()  # nothing selected
    select(desktop, "web")
    enabled = {verb for verb, action in panel.verb_actions.items() if action.isEnabled()}
    assert enabled == {"stop", "restart", "pause", "kill", "remove"}
    select(desktop, "db")
    enabled = {verb for verb, action in panel.verb_actions.items() if action.isEnabled()}
    assert enabled == {"start", "restart", "remove"}


def test_stop_then_the_row_updates_from_the_event(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    select(desktop, "web")
    finish(qtbot, desktop.window.containers.run_verb("stop"))
    assert ("containers.stop", WEB) in fake.calls
    panel = desktop.window.containers
    qtbot.waitUntil(lambda: panel.verb_actions["start"].isEnabled(), timeout=3000)
    assert [r.name for r in panel.selected_rows()] == ["web"]  # the selection survived


def test_remove_asks_first(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient, prompts: AnsweringPrompts
) -> None:
    select(desktop, "db")
    prompts.confirm_answer = False
    assert desktop.window.containers.run_verb("remove") is None
    assert prompts.asked == [("Remove containers", "Remove db?")]
    assert fake.count("containers.remove") == 0
    prompts.confirm_answer = True
    finish(qtbot, desktop.window.containers.run_verb("remove"))
    qtbot.waitUntil(lambda: desktop.window.containers.model.column_texts("Name") == ["web"])


def test_engine_errors_show_the_engine_message(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient, prompts: AnsweringPrompts
) -> None:
    images = desktop.window.images
    images.table.selectRow(0)
    fake.fail_with = Conflict(409, "image is being used by running container abc")
    task = images.remove_selected()
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=3000)
    assert task is not None and task.done()
    assert prompts.errors == [("Could not remove", "image is being used by running container abc")]


def test_logs_of_the_selected_container(qtbot: QtBot, desktop: DesktopApp) -> None:
    select(desktop, "web")
    logs = desktop.window.containers.logs
    qtbot.waitUntil(lambda: "hello from web" in logs.plain_text(), timeout=3000)
    assert logs.following and "web (following)" in logs.header.text()
    desktop.window.containers.table.clearSelection()
    assert logs.container_id is None and logs.plain_text() == ""


def test_run_dialog_checks_input_then_creates_and_starts(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    dialog = desktop.window.containers.open_run_dialog("busybox")
    assert dialog.image_box.findText("busybox:latest") >= 0
    dialog.ports_edit.setText("80:http")
    dialog.accept()
    assert dialog.isVisible() and "port mapping '80:http'" in dialog.problem.text()
    assert fake.count("containers.create") == 0
    dialog.ports_edit.setText("8080:80")
    dialog.name_edit.setText("new")
    dialog.command_edit.setText("sleep 60")
    dialog.accept()
    assert not dialog.isVisible()
    cid = finish(qtbot, dialog.task)
    create = next(c for c in fake.calls if c[0] == "containers.create")
    assert create[1]["Cmd"] == ["sleep", "60"] and create[2] == "new"
    assert ("containers.start", cid) in fake.calls
    qtbot.waitUntil(lambda: "new" in desktop.window.containers.model.column_texts("Name"))


def test_images_load_shows_progress(
    qtbot: QtBot, desktop: DesktopApp, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    images = desktop.window.images
    prompts.file_answer = None
    images._choose_archive()  # cancelled file dialog: nothing happens
    assert images.progress_row.isHidden()
    finish(qtbot, images.load_from_file(tmp_path / "busybox.tar"))
    assert images.progress_text.text() == "Loaded image: busybox:latest"


def test_volumes_create_and_remove(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient, prompts: AnsweringPrompts
) -> None:
    volumes = desktop.window.volumes
    finish(qtbot, volumes.create_volume())
    qtbot.waitUntil(lambda: volumes.model.column_texts("Name") == ["vol1"], timeout=3000)
    volumes.table.selectRow(0)
    finish(qtbot, volumes.remove_selected())
    qtbot.waitUntil(lambda: volumes.model.rowCount() == 0, timeout=3000)
    assert ("volumes.remove", "vol1") in fake.calls
    finish(qtbot, volumes.prune())
    qtbot.waitUntil(lambda: prompts.infos != [], timeout=3000)


def test_tray_lists_running_containers(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    tray = desktop.tray
    assert tray.container_menu_titles() == ["web"]
    menu = tray.container_menu("web")
    assert menu is not None
    assert [a.text() for a in menu.actions()] == ["Stop", "Restart", "Logs"]
    menu.actions()[2].trigger()  # Logs: the dashboard, on this container
    assert desktop.window.isVisible()
    assert [r.name for r in desktop.window.containers.selected_rows()] == ["web"]
    menu.actions()[0].trigger()  # Stop
    qtbot.waitUntil(lambda: tray.container_menu_titles() == [], timeout=3000)
    assert ("containers.stop", WEB) in fake.calls
    titles = [a.text() for a in tray.menu.actions()]
    assert titles[0] == "Open dashboard" and titles[-1] == "Quit Doca"


def test_closing_the_window_hides_it_or_quits(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    window.hide_on_close = True  # as with a real tray icon
    window.show()
    window.close()
    assert not window.isVisible() and not desktop.quit_requested.is_set()
    window.hide_on_close = False  # no tray: closing is quitting
    window.show()
    window.close()
    assert desktop.quit_requested.is_set()
    desktop.tray.menu.actions()[-1].trigger()  # Quit in the tray does the same


def test_quit_closes_everything(qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient) -> None:
    desktop.quit_requested.set()
    run(qtbot, desktop.run_until_quit())
    assert fake.closed and fake.listening == 0
    assert QApplication.instance() is not None
