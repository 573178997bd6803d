"""The container details window against a real doca-engine: the inspect tree, live stats, and
the files tab (listing, download, upload) for a running and a stopped busybox container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.views.container_detail import ContainerDetailDialog
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import finish
from tests.support.engine import DockerCLI
from tests.support.testimage import TestImage

pytestmark = pytest.mark.e2e

# PID 1 ignores SIGTERM unless it traps it: trap it, so a stop is quick.
SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 300 & wait']


@pytest.fixture
def web(docker: DockerCLI, loaded_busybox: TestImage) -> Iterator[str]:
    """A running busybox container; its ID."""
    container_id = docker("run", "-d", "--name", "detail-web", "busybox", *SLEEPER).stdout.strip()
    yield container_id
    docker("rm", "-f", "detail-web", check=False)


def open_details(qtbot: QtBot, desktop: DesktopApp, container_id: str) -> ContainerDetailDialog:
    """Select the container in the panel and use the Details… action, as the user does."""
    panel = desktop.window.containers
    qtbot.waitUntil(lambda: panel.select_key(container_id), timeout=3000)
    assert panel.details_action.isEnabled()
    panel.details_action.trigger()
    dialog = panel.details[container_id]
    qtbot.addWidget(dialog)
    return dialog


def test_inspect_tab_shows_the_container(
    qtbot: QtBot, desktop: DesktopApp, web: str, prompts: AnsweringPrompts
) -> None:
    dialog = open_details(qtbot, desktop, web)
    assert dialog.isVisible() and dialog.windowTitle().startswith("detail-web")
    inspect = dialog.inspect
    qtbot.waitUntil(lambda: inspect.loaded, timeout=5000)
    rows = dict(inspect.visible_rows())
    assert rows["Id"] == web and rows["Name"] == "/detail-web"
    assert rows["State"] == f"{{{len(json.loads(inspect.model.root.to_json())['State'])} keys}}"

    inspect.filter_edit.setText("trap")  # a value deep in Config.Cmd
    assert {key for key, _ in inspect.visible_rows()} == {"Args", "Config"}
    inspect.filter_edit.setText("")
    assert len(inspect.visible_rows()) == len(rows)

    text = inspect.copy_json()
    assert json.loads(text)["Id"] == web
    assert QGuiApplication.clipboard().text() == text
    assert desktop.window.containers.open_details(web) is dialog  # one window per container
    assert prompts.errors == []


def test_stats_tab_follows_the_running_container_and_stops_with_it(
    qtbot: QtBot, desktop: DesktopApp, web: str, docker: DockerCLI
) -> None:
    dialog = open_details(qtbot, desktop, web)
    dialog.show_tab("Stats")
    stats = dialog.stats
    qtbot.waitUntil(lambda: len(stats.history.readings) >= 2, timeout=5000)
    latest = stats.history.latest
    assert latest is not None and latest.memory_usage > 0 and latest.memory_limit > 0
    assert latest.pids >= 1
    assert stats.cpu_text.text().endswith("%")
    assert " / " in stats.memory_text.text() and "iB" in stats.memory_text.text()
    assert stats.cpu_chart.values and stats.memory_chart.values
    dialog.grab()  # the charts paint without error

    docker("stop", "detail-web")
    qtbot.waitUntil(lambda: not stats.following, timeout=5000)
    assert stats.state.text() == "The container stopped."
    docker("start", "detail-web")
    qtbot.waitUntil(lambda: stats.following, timeout=5000)

    dialog.reject()  # closing the window ends its tasks
    qtbot.waitUntil(lambda: dialog.tasks.pending == 0, timeout=5000)
    assert web not in desktop.window.containers.details


def test_files_tab_lists_downloads_and_uploads(
    qtbot: QtBot, desktop: DesktopApp, web: str, docker: DockerCLI, tmp_path: Path
) -> None:
    dialog = open_details(qtbot, desktop, web)
    files = dialog.files
    listing = finish(qtbot, files.navigate("/etc"))
    dialog.show_tab("Files")  # already listed: it stays on /etc
    assert listing.complete and "passwd" in files.names() and "hostname" in files.names()
    assert files.path_edit.text() == "/etc" and files.status.text().endswith("entries")

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    files.choose_folder = lambda: downloads
    assert files.select("hostname")
    result = finish(qtbot, files.download_selected())
    expected = docker("exec", "detail-web", "cat", "/etc/hostname").stdout
    assert (downloads / "hostname").read_text() == expected
    assert result.target == downloads / "hostname"
    assert files.status.text() == f"Saved {downloads / 'hostname'}" and files.progress.isHidden()

    local = tmp_path / "from-the-desktop.txt"
    local.write_text("uploaded by the details window\n")
    finish(qtbot, files.navigate("/tmp"))
    files.choose_files = lambda: [local]
    finish(qtbot, files.upload_chosen())
    seen = docker("exec", "detail-web", "cat", "/tmp/from-the-desktop.txt").stdout
    assert seen == "uploaded by the details window\n"
    qtbot.waitUntil(lambda: "from-the-desktop.txt" in files.names(), timeout=5000)

    files.path_edit.setText("/no/such/dir")
    files.path_edit.returnPressed.emit()
    qtbot.waitUntil(lambda: "Cannot list /no/such/dir" in files.status.text(), timeout=5000)
    assert "Could not find the file /no/such/dir" in files.status.text()
    assert "Traceback" not in files.status.text()
    assert files.path == "/tmp" and "from-the-desktop.txt" in files.names()  # still shown

    finish(qtbot, files.go_up())
    assert files.path == "/" and "etc" in files.names()


def test_files_of_a_stopped_container(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, loaded_busybox: TestImage, tmp_path: Path
) -> None:
    container_id = docker("create", "--name", "detail-stopped", "busybox").stdout.strip()
    try:
        qtbot.waitUntil(lambda: desktop.session.containers.find(container_id) is not None)
        dialog = desktop.window.containers.open_details(container_id)
        assert dialog is not None
        qtbot.addWidget(dialog)
        assert dialog.stats.state.text().startswith("Not running")
        dialog.show_tab("Files")  # lists / on first sight
        qtbot.waitUntil(lambda: "etc" in dialog.files.names(), timeout=10_000)
        assert dialog.files.listing is not None and dialog.files.listing.complete
        listing = finish(qtbot, dialog.files.navigate("/etc"))
        assert "passwd" in [entry.name for entry in listing.entries]
        result = finish(qtbot, dialog.files.download("/etc/passwd", tmp_path))
        assert result.target.read_text().startswith("root:x:0:0:")
    finally:
        docker("rm", "-f", "detail-stopped", check=False)
