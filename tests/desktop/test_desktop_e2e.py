"""The desktop app against a real doca-engine: load, run, logs, stop, remove from the panels;
the docker CLI's changes show up without a click; the supervisor starts and stops an engine."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState, engine_argv
from desktop_app.engine_supervisor import EngineSupervisor
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import finish, run
from tests.support.engine import (
    DockerCLI,
    EngineProcess,
    free_port,
    remove_network_state,
    short_root,
    unique_bridge_name,
)
from tests.support.testimage import TestImage

pytestmark = pytest.mark.e2e


def names(desktop: DesktopApp) -> list[str]:
    return desktop.window.containers.model.column_texts("Name")


def row_text(desktop: DesktopApp, name: str, column: str) -> str:
    model = desktop.window.containers.model
    return model.column_texts(column)[model.column_texts("Name").index(name)]


def test_load_run_logs_stop_remove_from_the_panels(
    qtbot: QtBot, desktop: DesktopApp, test_image: TestImage, prompts: AnsweringPrompts
) -> None:
    window = desktop.window
    assert window.engine_label.text().startswith("Engine: running")

    finish(qtbot, window.images.load_from_file(test_image.save_tar), timeout=60)
    assert window.images.progress_text.text() == "Loaded image: busybox:latest"
    qtbot.waitUntil(lambda: "busybox:latest" in window.images.model.column_texts("Repository:Tag"))

    port = free_port()
    dialog = window.containers.open_run_dialog("busybox")
    dialog.name_edit.setText("gui-web")
    # PID 1 ignores SIGTERM unless it traps it: trap it, so Stop is quick.
    dialog.command_edit.setText(
        """sh -c 'trap "exit 0" TERM; echo hello from $GREETING; sleep 300 & wait'"""
    )
    dialog.env_edit.setPlainText("GREETING=the-gui")
    dialog.ports_edit.setText(f"127.0.0.1:{port}:80")
    dialog.restart_box.setCurrentText("unless-stopped")
    dialog.accept()
    container_id = finish(qtbot, dialog.task, timeout=30)
    qtbot.waitUntil(lambda: "gui-web" in names(desktop), timeout=3000)
    qtbot.waitUntil(lambda: row_text(desktop, "gui-web", "Status") == "Running", timeout=3000)
    details = run(qtbot, desktop.session.client.containers.inspect(container_id))
    assert details["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    }
    assert details["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    qtbot.waitUntil(
        lambda: row_text(desktop, "gui-web", "Ports") == f"127.0.0.1:{port}->80/tcp", timeout=3000
    )
    assert window.images.model.column_texts("In use") == ["in use"]

    panel = window.containers
    assert panel.select_key(container_id)
    opened: list[QUrl] = []
    panel.open_url = opened.append
    assert panel.open_action.isEnabled()
    assert panel.open_in_browser() == f"http://127.0.0.1:{port}/"
    assert [url.toString() for url in opened] == [f"http://127.0.0.1:{port}/"]
    qtbot.waitUntil(lambda: "hello from the-gui" in panel.logs.plain_text(), timeout=5000)

    finish(qtbot, panel.run_verb("stop"), timeout=30)
    qtbot.waitUntil(lambda: row_text(desktop, "gui-web", "Status") == "Exited (0)", timeout=3000)
    qtbot.waitUntil(lambda: panel.verb_actions["remove"].isEnabled(), timeout=3000)
    finish(qtbot, panel.run_verb("remove"), timeout=30)
    assert prompts.asked[-1] == ("Remove containers", "Remove gui-web?")
    qtbot.waitUntil(lambda: "gui-web" not in names(desktop), timeout=3000)
    assert prompts.errors == []


def test_cli_changes_appear_without_a_click(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, loaded_busybox: TestImage
) -> None:
    docker("run", "-d", "--name", "cli-made", "busybox", "sleep", "300")
    try:
        started = time.monotonic()
        qtbot.waitUntil(lambda: "cli-made" in names(desktop), timeout=1000)
        assert time.monotonic() - started < 1.0
        qtbot.waitUntil(lambda: "cli-made" in desktop.tray.container_menu_titles(), timeout=1000)
        docker("volume", "create", "cli-volume")
        qtbot.waitUntil(
            lambda: "cli-volume" in desktop.window.volumes.model.column_texts("Name"),
            timeout=1000,
        )
    finally:
        docker("rm", "-f", "cli-made", check=False)
        docker("volume", "rm", "cli-volume", check=False)
    qtbot.waitUntil(lambda: "cli-made" not in names(desktop), timeout=1000)
    assert "cli-made" not in desktop.tray.container_menu_titles()


def test_engine_errors_reach_the_user(
    qtbot: QtBot, desktop: DesktopApp, prompts: AnsweringPrompts
) -> None:
    dialog = desktop.window.containers.open_run_dialog("no-such-image:1")
    dialog.accept()
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=5000)
    title, text = prompts.errors[0]
    assert title == "Could not run no-such-image:1"
    assert "no-such-image" in text and "Traceback" not in text


def test_the_app_starts_and_stops_its_own_engine(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, engine: EngineProcess, prompts: AnsweringPrompts
) -> None:
    root = short_root()
    host = f"unix://{root}/doca.sock"
    bridge = unique_bridge_name()
    argv = engine_argv(host, root / "data", root / "exec", extra=["--bridge", bridge])
    app = DesktopApp(EngineSupervisor(host, argv), prompts=prompts)
    qtbot.addWidget(app.window)
    try:
        app.start()
        qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=30_000)
        status = app.supervisor.status
        assert status.owned and status.pid and app.engine.stop_action.isEnabled()
        qtbot.waitUntil(lambda: app.session.containers.loaded, timeout=5000)
        pid = status.pid
        finish(qtbot, app.engine.restart(), timeout=30)
        qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=30_000)
        assert app.supervisor.status.pid != pid
        app.quit_requested.set()
        run(qtbot, app.run_until_quit(), timeout=30)
        assert app.supervisor.status.state is EngineState.STOPPED
        assert not (root / "doca.sock").exists() or not app.supervisor.owns_engine
    finally:
        if not app.quit_requested.is_set():
            run(qtbot, app.aclose(), timeout=30)
        remove_network_state(root / "data", bridge)
        shutil.rmtree(root, ignore_errors=True)
