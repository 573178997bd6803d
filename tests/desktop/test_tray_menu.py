"""The tray: what its menu lists (pure), its submenus and switches against the fake client, and,
with a real system tray (Xvfb + ``trayer`` as the tray host), against a real doca-engine driven
by the docker CLI and Docker Compose.

Qt's offscreen platform has no system tray, and one test process has one QApplication on one
platform, so the tests named ``test_tray_host_*`` run in a child pytest under Xvfb with
``trayer``, started by ``test_tray_under_xvfb_and_trayer``; in the offscreen run they skip."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState, engine_argv
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.notification_settings import NotificationSettings
from desktop_app.state.rows import COMPOSE_PROJECT, COMPOSE_SERVICE
from desktop_app.state.tray_menu import tray_menu
from desktop_app.tray import ICON_FILES, ICONS_DIR, tray_icon
from tests.desktop.fakes import AnsweringPrompts, FakeEngineClient, container
from tests.desktop.qtwait import run
from tests.support.compose import real
from tests.support.engine import (
    DockerCLI,
    EngineProcess,
    free_port,
    remove_network_state,
    short_root,
    unique_bridge_name,
)
from tests.support.testimage import BUSYBOX

REPO = Path(__file__).resolve().parents[2]
#: set in the child run, which has a tray host and must not skip for want of one
TRAY_HOST_ENV = "DOCA_TEST_TRAY_HOST"
TRAY_HOST_TESTS = "tray_host"

WEB, DB, API, WORKER = "a" * 64, "b" * 64, "c" * 64, "d" * 64


def compose_labels(project: str, service: str) -> dict[str, str]:
    return {COMPOSE_PROJECT: project, COMPOSE_SERVICE: service}


# --- a tray host for the child run -------------------------------------------------------


def tray_host_problem() -> str | None:
    """Why no tray host can be started here, or None."""
    missing = [tool for tool in ("Xvfb", "trayer") if shutil.which(tool) is None]
    if missing:
        return f"needs {' and '.join(missing)} for a system tray (apt install xvfb trayer)"
    if os.geteuid() != 0:
        return "a real doca-engine needs root (mounts, device nodes, runtimes)"
    if not BUSYBOX.exists():
        return "busybox-static is not installed (/bin/busybox)"
    return None


@contextlib.contextmanager
def tray_host() -> Iterator[str]:
    """Xvfb on a display it picks itself, with ``trayer`` holding the tray selection; yields
    the DISPLAY. Both are stopped by their PIDs afterwards."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    trayer: subprocess.Popen[bytes] | None = None
    try:
        with os.fdopen(read_fd) as answer:
            number = answer.readline().strip()  # written once Xvfb accepts clients
        if not number:
            raise RuntimeError(f"Xvfb did not start (exit code {xvfb.poll()})")
        display = f":{number}"
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--width", "10"],
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield display
    finally:
        for process in (trayer, xvfb):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def run_under_tray_host(test_file: str, timeout: float = 280) -> None:
    """Run ``test_file``'s ``test_tray_host_*`` tests in a child pytest on the xcb platform
    under a fresh tray host; fail with its output unless they all passed (a skip there is a
    failure: the child has everything it needs)."""
    problem = tray_host_problem()
    if problem is not None:
        pytest.skip(problem)
    with tray_host() as display:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "DOCKER_"))}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", **{TRAY_HOST_ENV: "1"})
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
             test_file, "-k", TRAY_HOST_TESTS],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1:] or [""]
    ok = result.returncode == 0 and " passed" in summary[0]
    ok = ok and not any(word in summary[0] for word in ("skipped", "error", "xfail"))
    assert ok, f"child pytest under {display} exited {result.returncode}:\n" + (
        result.stdout[-8000:] + result.stderr[-3000:]
    )


@pytest.fixture
def system_tray(qapp: QApplication) -> None:
    """A real system tray, or a skip outside the child run."""
    if not os.environ.get(TRAY_HOST_ENV):
        pytest.skip("needs a system tray: runs in a child under Xvfb + trayer")
    deadline = time.monotonic() + 10
    while not QSystemTrayIcon.isSystemTrayAvailable():
        assert time.monotonic() < deadline, "trayer never took the system tray selection"
        qapp.processEvents()
        time.sleep(0.05)


def test_tray_under_xvfb_and_trayer() -> None:
    if os.environ.get(TRAY_HOST_ENV):
        pytest.skip("this is the child run")
    run_under_tray_host(__file__)


# --- what the menu lists -----------------------------------------------------------------


def test_tray_menu_groups_compose_projects_and_leaves_out_stopped_containers() -> None:
    rows = [
        container(WEB, "web"),
        container(DB, "db", state="exited"),
        container(API, "demo-api-1", Labels=compose_labels("demo", "api")),
        container(WORKER, "demo-worker-1", Labels=compose_labels("demo", "worker")),
        container("e" * 64, "old-1", state="exited", Labels=compose_labels("old", "x")),
    ]
    menu = tray_menu(rows)
    assert [c.name for c in menu.containers] == ["web"]
    assert [(p.name, p.title) for p in menu.projects] == [("demo", "demo (2 running)")]
    assert [c.name for c in menu.projects[0].containers] == ["demo-api-1", "demo-worker-1"]
    assert [c.service for c in menu.projects[0].containers] == ["api", "worker"]
    assert tray_menu([container(DB, "db", state="exited")]).empty


def test_tray_menu_is_the_same_when_only_the_status_text_moved_on() -> None:
    before = tray_menu([container(WEB, "web", Status="Up 1 second")])
    after = tray_menu([container(WEB, "web", Status="Up 2 minutes")])
    assert before == after
    published = [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
    assert tray_menu([container(WEB, "web", Ports=published)]) != before
    assert tray_menu([container(WEB, "web", Ports=published)]).containers[0].urls == (
        "http://localhost:8080/",
    )


def test_each_engine_state_has_its_own_svg_icon() -> None:
    for state in EngineState:
        assert (ICONS_DIR / ICON_FILES[state]).is_file()
    shown = {EngineState.STARTING, EngineState.RUNNING, EngineState.STOPPED, EngineState.ERROR}
    icons = [tray_icon(state) for state in shown]
    assert not any(icon.isNull() for icon in icons)
    assert len({icon.cacheKey() for icon in icons}) == 4


# --- the tray against the fake client ----------------------------------------------------


@pytest.fixture
def fake() -> FakeEngineClient:
    fake = FakeEngineClient()
    published = [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
    fake.containers.rows = [
        container(WEB, "web", Ports=published),
        container(DB, "db", state="exited"),
        container(API, "demo-api-1", Labels=compose_labels("demo", "api")),
        container(WORKER, "demo-worker-1", Labels=compose_labels("demo", "worker")),
    ]
    return fake


@pytest.fixture
def notifications(tmp_path: Path) -> NotificationSettings:
    return NotificationSettings(tmp_path / "notifications.json")


@pytest.fixture
def desktop(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    fake: FakeEngineClient,
    prompts: AnsweringPrompts,
    notifications: NotificationSettings,
) -> Iterator[DesktopApp]:
    supervisor = EngineSupervisor(fake.host, None, ping=fake.ping)
    app = DesktopApp(supervisor, prompts=prompts, client=fake, notifications=notifications)  # type: ignore[arg-type]
    qtbot.addWidget(app.window)
    app.start()
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=5000)
    qtbot.waitUntil(lambda: app.session.containers.loaded, timeout=5000)
    yield app
    run(qtbot, app.aclose())


def action_texts(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def trigger(menu: QMenu | None, text: str) -> None:
    assert menu is not None
    next(a for a in menu.actions() if a.text() == text).trigger()


def test_compose_project_submenu_stops_the_whole_project(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    tray = desktop.tray
    assert tray.project_menu_titles() == ["demo (2 running)"]
    assert tray.container_menu_titles() == ["web"]  # the project's are in its submenu
    project = tray.project_menu("demo")
    assert project is not None
    assert action_texts(project) == [
        "Stop project",
        "Restart project",
        "demo-api-1",
        "demo-worker-1",
    ]
    assert tray.projects_section.isVisible() and tray.containers_section.isVisible()
    trigger(project, "Stop project")
    qtbot.waitUntil(lambda: tray.project_menu_titles() == [], timeout=3000)
    assert ("containers.stop", API) in fake.calls and ("containers.stop", WORKER) in fake.calls
    assert ("containers.stop", WEB) not in fake.calls
    assert not tray.projects_section.isVisible()


def test_container_submenu_opens_published_ports_and_logs(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    tray = desktop.tray
    opened: list[QUrl] = []
    tray.open_url = opened.append
    web = tray.container_menu("web")
    assert web is not None
    assert action_texts(web) == ["Stop", "Restart", "Logs", "Open http://127.0.0.1:8080/"]
    trigger(web, "Open http://127.0.0.1:8080/")
    assert [url.toString() for url in opened] == ["http://127.0.0.1:8080/"]
    requested: list[str] = []
    tray.logs_requested.connect(requested.append)
    trigger(tray.container_menu("demo-api-1"), "Logs")  # inside the project's submenu
    assert requested == [API]
    assert desktop.window.isVisible()
    assert [r.name for r in desktop.window.containers.selected_rows()] == ["demo-api-1"]
    trigger(tray.container_menu("demo-worker-1"), "Restart")
    qtbot.waitUntil(lambda: ("containers.restart", WORKER) in fake.calls, timeout=3000)


def test_submenus_are_rebuilt_only_when_the_list_changes(
    qtbot: QtBot, desktop: DesktopApp, fake: FakeEngineClient
) -> None:
    tray = desktop.tray
    web = tray.container_menu("web")
    fake.containers.rows[0]["Status"] = "Up 5 minutes"
    run(qtbot, desktop.session.containers.refresh())
    assert tray.container_menu("web") is web  # an open menu is left alone
    fake.containers.rows.append(container("f" * 64, "cache"))
    fake.emit("container", "start", "f" * 64)
    qtbot.waitUntil(lambda: tray.container_menu_titles() == ["cache", "web"], timeout=3000)
    fake.containers.rows = []
    fake.emit("container", "destroy", WEB)
    qtbot.waitUntil(lambda: tray.container_menu_titles() == [], timeout=3000)
    assert tray.containers_section.text() == "No running containers"
    assert tray.project_menu_titles() == []


def test_notifications_switch_is_off_until_turned_on_and_remembered(
    qtbot: QtBot, desktop: DesktopApp, notifications: NotificationSettings
) -> None:
    action = desktop.tray.notify_action
    assert action.isCheckable() and not action.isChecked() and not notifications.enabled
    action.trigger()
    assert notifications.enabled
    assert notifications.path is not None
    qtbot.waitUntil(notifications.path.exists, timeout=3000)
    assert NotificationSettings.load(notifications.path).enabled
    notifications.set_enabled(False)  # e.g. from a notifications panel: the tray follows
    assert not action.isChecked()


def test_quit_and_open_dashboard_from_the_tray(qtbot: QtBot, desktop: DesktopApp) -> None:
    titles = [a.text() for a in desktop.tray.menu.actions()]
    assert titles[0] == "Open dashboard" and titles[-1] == "Quit Doca"
    desktop.tray.menu.actions()[0].trigger()
    assert desktop.window.isVisible()
    desktop.tray.menu.actions()[-1].trigger()
    assert desktop.quit_requested.is_set()


# --- with a real tray host and a real engine (child run) --------------------------------

COMPOSE_PROJECT_FILE = """
services:
  web:
    image: busybox
    command:
      - sh
      - -c
      - mkdir -p /www && echo hello-tray > /www/index.html && exec httpd -f -p 80 -h /www
    ports: ["127.0.0.1:{port}:80"]
    stop_signal: SIGKILL
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]
"""
TRAPPING_SLEEP = """trap "exit 0" TERM; sleep 300 & wait"""


@pytest.fixture
def live_desktop(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    system_tray: None,
    engine: EngineProcess,
    loaded_busybox: object,
    prompts: AnsweringPrompts,
    notifications: NotificationSettings,
) -> Iterator[DesktopApp]:
    # Not given to qtbot.addWidget: it would close the window before this fixture's teardown,
    # which with a tray only hides it; the app's own close comes first, then the deletion.
    app = DesktopApp(
        EngineSupervisor(engine.host, None), prompts=prompts, notifications=notifications
    )
    app.start()
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=10_000)
    qtbot.waitUntil(lambda: app.session.containers.loaded, timeout=10_000)
    yield app
    if not app.quit_requested.is_set():  # else the test quit it already
        run(qtbot, app.aclose())
    app.window.deleteLater()


def state_of(docker: DockerCLI, name: str) -> str:
    return docker("inspect", "-f", "{{.State.Status}}", name, check=False).stdout.strip()


def test_tray_host_lists_cli_and_compose_containers_and_stops_them(
    qtbot: QtBot,
    live_desktop: DesktopApp,
    docker: DockerCLI,
    engine: EngineProcess,
    prompts: AnsweringPrompts,
    tmp_path: Path,
) -> None:
    tray = live_desktop.tray
    assert tray.available and tray.icon is not None and tray.icon.isVisible()
    assert tray.icon.contextMenu() is tray.menu
    port = free_port()
    (tmp_path / "compose.yaml").write_text(COMPOSE_PROJECT_FILE.format(port=port))
    try:
        docker("run", "-d", "--name", "tray-cli", "busybox", "sh", "-c", TRAPPING_SLEEP)
        qtbot.waitUntil(lambda: tray.container_menu_titles() == ["tray-cli"], timeout=3000)
        real(engine, tmp_path, "up", "-d")
        qtbot.waitUntil(lambda: tray.project_menu_titles() == ["demo (2 running)"], timeout=5000)
        project = tray.project_menu("demo")
        assert project is not None
        assert action_texts(project)[2:] == ["demo-web-1", "demo-worker-1"]
        web = tray.container_menu("demo-web-1")
        assert web is not None and f"Open http://127.0.0.1:{port}/" in action_texts(web)
        opened: list[QUrl] = []
        tray.open_url = opened.append
        trigger(web, f"Open http://127.0.0.1:{port}/")
        with urllib.request.urlopen(opened[0].toString(), timeout=5) as page:
            assert page.read() == b"hello-tray\n"

        trigger(tray.container_menu("tray-cli"), "Stop")
        qtbot.waitUntil(lambda: state_of(docker, "tray-cli") == "exited", timeout=15_000)
        qtbot.waitUntil(lambda: tray.container_menu_titles() == [], timeout=3000)
        assert not tray.containers_section.isVisible()  # only the project's run now

        trigger(tray.project_menu("demo"), "Stop project")
        qtbot.waitUntil(lambda: tray.project_menu_titles() == [], timeout=15_000)
        assert state_of(docker, "demo-web-1") == state_of(docker, "demo-worker-1") == "exited"
        assert tray.containers_section.text() == "No running containers"
        assert prompts.errors == []
    finally:
        real(engine, tmp_path, "down", "-t", "1", check=False)
        docker("rm", "-f", "tray-cli", check=False)


def test_tray_host_closing_the_window_leaves_the_tray_until_quit(
    qtbot: QtBot, live_desktop: DesktopApp
) -> None:
    window, tray = live_desktop.window, live_desktop.tray
    assert window.hide_on_close
    live_desktop.show()
    qtbot.waitUntil(window.isVisible, timeout=3000)
    window.close()
    assert not window.isVisible() and not live_desktop.quit_requested.is_set()
    assert tray.icon is not None and tray.icon.isVisible()
    tray.menu.actions()[0].trigger()  # Open dashboard brings it back
    qtbot.waitUntil(window.isVisible, timeout=3000)
    tray.menu.actions()[-1].trigger()  # Quit Doca
    assert live_desktop.quit_requested.is_set()
    run(qtbot, live_desktop.run_until_quit(), timeout=30)
    assert not tray.icon.isVisible()


def test_tray_host_icon_follows_the_engine(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    system_tray: None,
    prompts: AnsweringPrompts,
    notifications: NotificationSettings,
) -> None:
    root = short_root()
    host = f"unix://{root}/doca.sock"
    bridge = unique_bridge_name()
    argv = engine_argv(host, root / "data", root / "exec", extra=["--bridge", bridge])
    app = DesktopApp(EngineSupervisor(host, argv), prompts=prompts, notifications=notifications)
    tray = app.tray

    def shows(state: EngineState) -> bool:
        assert tray.icon is not None
        return tray.icon.icon().cacheKey() == tray_icon(state).cacheKey()

    try:
        assert shows(EngineState.STOPPED)
        app.start()
        qtbot.waitUntil(lambda: shows(EngineState.STARTING), timeout=5000)
        qtbot.waitUntil(lambda: shows(EngineState.RUNNING), timeout=30_000)
        assert tray.state_action.text().startswith("Engine: running")
        assert "Engine: running" in (tray.icon.toolTip() if tray.icon else "")
        stop = app.engine.stop_action
        assert stop in tray.menu.actions() and stop.isEnabled()
        stop.trigger()  # Stop engine, from the tray
        qtbot.waitUntil(lambda: shows(EngineState.STOPPED), timeout=30_000)
        assert app.supervisor.status.state is EngineState.STOPPED
        assert tray.state_action.text() == "Engine: stopped"
    finally:
        run(qtbot, app.aclose(), timeout=30)
        app.window.deleteLater()
        remove_network_state(root / "data", bridge)
        shutil.rmtree(root, ignore_errors=True)


def test_tray_host_logs_of_a_container_open_the_dashboard_on_it(
    qtbot: QtBot, live_desktop: DesktopApp, docker: DockerCLI
) -> None:
    docker("run", "-d", "--name", "tray-logs", "busybox", "sh", "-c", "echo hi-logs; sleep 300")
    try:
        qtbot.waitUntil(lambda: "tray-logs" in live_desktop.tray.container_menu_titles())
        window = live_desktop.window
        window.hide()
        trigger(live_desktop.tray.container_menu("tray-logs"), "Logs")
        assert window.isVisible()
        assert [r.name for r in window.containers.selected_rows()] == ["tray-logs"]
        logs = window.containers.logs
        qtbot.waitUntil(lambda: "hi-logs" in logs.plain_text(), timeout=5000)
    finally:
        docker("rm", "-f", "tray-logs", check=False)
