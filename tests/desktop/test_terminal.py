"""The details window's Terminal tab against a real doca-engine: a shell in a running busybox
container typed into with real key events, resized with the window, ended and restarted; and
the tab of a stopped container."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.exceptions import TimeoutError as WaitTimeout
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.state.terminal_session import TerminalSession
from desktop_app.views.container_detail import ContainerDetailDialog
from desktop_app.views.terminal_view import NOT_RUNNING, TerminalView
from tests.support.engine import DockerCLI
from tests.support.testimage import TestImage

pytestmark = pytest.mark.e2e


@pytest.fixture
def sleeper(docker: DockerCLI, loaded_busybox: TestImage) -> Iterator[str]:
    """A running busybox container; its ID."""
    container_id = docker(
        "run", "-d", "--name", "term-sleeper", "busybox", "sh", "-c", "sleep 600"
    ).stdout.strip()
    yield container_id
    docker("rm", "-f", "term-sleeper", check=False)


def open_terminal(qtbot: QtBot, desktop: DesktopApp, container_id: str) -> ContainerDetailDialog:
    panel = desktop.window.containers
    qtbot.waitUntil(lambda: panel.select_key(container_id), timeout=3000)
    panel.details_action.trigger()
    dialog = panel.details[container_id]
    qtbot.addWidget(dialog)
    dialog.show_tab("Terminal")
    return dialog


def wait_for_line(qtbot: QtBot, session: TerminalSession, text: str, timeout: int = 10_000) -> None:
    """Wait until a line of the screen reads ``text``; the screen in the failure if not."""
    try:
        qtbot.waitUntil(lambda: text in session.display(), timeout=timeout)
    except WaitTimeout:
        pytest.fail(f"{text!r} never appeared on the screen: {session.display()}")


def wait_for_prompt(qtbot: QtBot, view: TerminalView) -> TerminalSession:
    """Wait for busybox sh's prompt (``/ #`` for root) on a connected session."""
    session = view.session
    assert session is not None
    try:
        qtbot.waitUntil(
            lambda: session.connected and any(ln.endswith("#") for ln in session.display()),
            timeout=10_000,
        )
    except WaitTimeout:
        pytest.fail(f"no prompt on the screen: {session.display()}")
    return session


def type_line(qtbot: QtBot, view: TerminalView, line: str) -> None:
    qtbot.keyClicks(view.console, line)
    qtbot.keyClick(view.console, Qt.Key.Key_Return)


def test_typing_in_the_shell_resizing_and_exiting(
    qtbot: QtBot, desktop: DesktopApp, sleeper: str, docker: DockerCLI
) -> None:
    dialog = open_terminal(qtbot, desktop, sleeper)
    view = dialog.terminal
    assert view.status.text() == "Shell running" and view.action.isHidden()
    session = wait_for_prompt(qtbot, view)
    qtbot.waitUntil(lambda: session.tty_size == session.size, timeout=5000)

    type_line(qtbot, view, "echo $((6*7))")
    wait_for_line(qtbot, session, "42")
    assert any(line.endswith("echo $((6*7))") for line in session.display())  # echoed input
    dialog.grab()  # the screen paints, cursor and all

    # Ctrl+C reaches the shell as ETX: the foreground command is interrupted.
    type_line(qtbot, view, "sleep 30")
    qtbot.wait(300)
    qtbot.keyClick(view.console, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    type_line(qtbot, view, "echo status=$?")
    wait_for_line(qtbot, session, "status=130", timeout=5000)

    before = session.size
    dialog.resize(dialog.width() + 160, dialog.height() + 120)
    qtbot.waitUntil(lambda: session.size != before, timeout=5000)
    assert session.size == view.console.grid_size()
    rows, columns = session.size
    assert rows > before[0] and columns > before[1]
    qtbot.waitUntil(lambda: session.tty_size == (rows, columns), timeout=5000)
    type_line(qtbot, view, "clear; stty size")
    wait_for_line(qtbot, session, f"{rows} {columns}")

    type_line(qtbot, view, "exit")
    qtbot.waitUntil(lambda: not view.live, timeout=10_000)
    assert view.status.text() == "Process exited with code 0"
    assert view.action.isVisible() and view.action.text() == "Restart"
    assert view.action.isEnabled()

    qtbot.mouseClick(view.action, Qt.MouseButton.LeftButton)  # a new shell
    assert view.session is not session and view.live
    session = wait_for_prompt(qtbot, view)
    type_line(qtbot, view, "exit 3")
    qtbot.waitUntil(lambda: not view.live, timeout=10_000)
    assert view.status.text() == "Process exited with code 3"
    assert session.exit_code == 3

    dialog.reject()  # closing the window ends its tasks
    qtbot.waitUntil(lambda: dialog.tasks.pending == 0, timeout=5000)


def test_closing_the_window_ends_the_shells_connection(
    qtbot: QtBot, desktop: DesktopApp, sleeper: str, docker: DockerCLI
) -> None:
    dialog = open_terminal(qtbot, desktop, sleeper)
    session = wait_for_prompt(qtbot, dialog.terminal)
    type_line(qtbot, dialog.terminal, "echo ready")
    wait_for_line(qtbot, session, "ready")
    dialog.reject()
    qtbot.waitUntil(lambda: dialog.tasks.pending == 0, timeout=5000)
    assert session.finished and not session.connected
    assert session.exit_code is None  # cancelled: no exit was reported


def test_a_stopped_container_has_no_shell(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, loaded_busybox: TestImage
) -> None:
    container_id = docker("create", "--name", "term-stopped", "busybox", "sleep", "600").stdout
    container_id = container_id.strip()
    try:
        dialog = open_terminal(qtbot, desktop, container_id)
        view = dialog.terminal
        assert view.session is None and not view.live
        assert view.status.text() == NOT_RUNNING
        assert view.action.text() == "Start terminal" and not view.action.isEnabled()
        assert view.action.toolTip() == NOT_RUNNING
        assert view.start() is None
        dialog.grab()

        docker("start", "term-stopped")
        qtbot.waitUntil(view.action.isEnabled, timeout=5000)
        assert view.status.text() == ""
        qtbot.mouseClick(view.action, Qt.MouseButton.LeftButton)
        session = wait_for_prompt(qtbot, view)

        docker("kill", "term-stopped")  # the shell ends with its container
        qtbot.waitUntil(lambda: not view.live, timeout=10_000)
        assert view.status.text().startswith("Process exited with code")
        assert session.finished
        qtbot.waitUntil(lambda: not view.action.isEnabled(), timeout=5000)
        assert view.action.text() == "Restart" and view.action.toolTip() == NOT_RUNNING
    finally:
        docker("rm", "-f", "term-stopped", check=False)
