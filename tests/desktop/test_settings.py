"""Settings: the Qt-free model (defaults, validation, the JSON file, the autostart entry, what
the next start makes of them) and the Settings page, under a temporary ``XDG_CONFIG_HOME``."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.main import parse_args
from desktop_app.state.autostart import desktop_entry, exec_argument, launch_command
from desktop_app.state.settings import (
    Settings,
    SettingsError,
    SettingsFiles,
    config_home,
    load_or_defaults,
)
from desktop_app.tasks import TaskOwner
from desktop_app.views.settings_view import SettingsView
from tests.desktop.qtwait import finish, run

LAUNCH = ["/opt/doca/bin/doca-desktop", "--hidden"]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SettingsFiles:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return SettingsFiles.from_environ()


# --- the model ----------------------------------------------------------------------------


def test_files_live_under_xdg_config_home(tmp_path: Path) -> None:
    files = SettingsFiles.from_environ({"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/home/u"})
    assert files.settings == tmp_path / "doca" / "desktop.json"
    assert files.autostart == tmp_path / "autostart" / "doca-desktop.desktop"
    # Unset or relative: ~/.config, as the XDG spec says.
    assert config_home({"HOME": "/home/u"}) == Path("/home/u/.config")
    assert config_home({"HOME": "/home/u", "XDG_CONFIG_HOME": "rel"}) == Path("/home/u/.config")


def test_round_trip_and_autostart_entry(files: SettingsFiles) -> None:
    assert files.load() == Settings()  # nothing saved yet: the defaults
    chosen = Settings("unix:///run/other/doca.sock", "/srv/doca", False, True)
    files.save(chosen, LAUNCH)
    assert files.load() == chosen
    assert json.loads(files.settings.read_text())["data_root"] == "/srv/doca"
    entry = files.autostart.read_text()
    assert "[Desktop Entry]" in entry and "Type=Application" in entry
    assert "Exec=/opt/doca/bin/doca-desktop --hidden" in entry.splitlines()
    files.save(Settings(start_at_login=False), LAUNCH)
    assert not files.autostart.exists()
    assert files.load() == Settings()
    assert not list(files.settings.parent.glob(".*.tmp"))


def test_start_at_login_is_the_entry_whoever_made_it(files: SettingsFiles) -> None:
    files.autostart.parent.mkdir(parents=True)
    files.autostart.write_text(desktop_entry(LAUNCH))
    assert files.load().start_at_login


def test_unusable_values_are_refused(files: SettingsFiles) -> None:
    assert Settings(engine_host="unix://relative.sock").problems()
    assert Settings(engine_host="ssh://host").problems()
    assert Settings(engine_host="tcp://").problems()
    assert Settings(data_root="var/lib/doca").problems()
    assert Settings(engine_host="tcp://127.0.0.1:2375", data_root="/x").problems() == []
    with pytest.raises(SettingsError, match="absolute"):
        files.save(Settings(data_root="relative"), LAUNCH)
    assert not files.settings.exists()


def test_a_broken_or_foreign_file(files: SettingsFiles) -> None:
    files.settings.parent.mkdir(parents=True)
    files.settings.write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read"):
        files.load()
    settings, problem = load_or_defaults(files)
    assert settings == Settings() and problem is not None and "desktop.json" in problem
    # Unknown keys and wrong types (another version's file) keep the defaults.
    files.settings.write_text(json.dumps({"data_root": 5, "start_engine": False, "x": 1}))
    assert files.load() == Settings(start_engine=False)


def test_exec_lines_survive_the_desktop_entry_parser() -> None:
    assert exec_argument("/usr/bin/doca-desktop") == "/usr/bin/doca-desktop"
    assert exec_argument("/opt/my apps/doca") == '"/opt/my apps/doca"'
    assert exec_argument("100%") == "100%%"
    assert exec_argument('a"b$c') == '"a\\\\"b\\\\$c"'
    assert launch_command(lambda _: "/usr/bin/doca-desktop") == [
        "/usr/bin/doca-desktop",
        "--hidden",
    ]
    assert launch_command(lambda _: None, "/venv/bin/python") == [
        "/venv/bin/python", "-m", "desktop_app.main", "--hidden",
    ]  # fmt: skip
    line = next(e for e in desktop_entry(["/opt/my apps/py", "-m", "x"]).splitlines()
                if e.startswith("Exec="))  # fmt: skip
    assert shlex.split(line.removeprefix("Exec=")) == [
        "/opt/my apps/py", "-m", "x",
    ]  # fmt: skip


def test_the_next_start_uses_the_settings() -> None:
    saved = Settings("unix:///run/saved.sock", "/srv/doca", start_engine=False)
    args = parse_args([], saved, environ={"DOCKER_HOST": "unix:///run/env.sock"})
    assert args.host == "unix:///run/saved.sock"
    assert args.data_root == Path("/srv/doca") and args.no_start_engine
    # The command line still wins; without settings $DOCKER_HOST does.
    args = parse_args(["--host", "unix:///run/flag.sock"], saved, environ={})
    assert args.host == "unix:///run/flag.sock"
    args = parse_args([], Settings(), environ={"DOCKER_HOST": "unix:///run/env.sock"})
    assert args.host == "unix:///run/env.sock" and not args.no_start_engine
    assert args.data_root == Path("/var/lib/doca")


# --- the page -----------------------------------------------------------------------------


@pytest.fixture
def view(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, files: SettingsFiles
) -> Iterator[SettingsView]:
    tasks = TaskOwner("test-settings")
    page = SettingsView(files, tasks, launch=lambda: LAUNCH)
    qtbot.addWidget(page)
    yield page
    run(qtbot, tasks.aclose())


def test_settings_page_round_trip(qtbot: QtBot, view: SettingsView, files: SettingsFiles) -> None:
    assert view.loaded == Settings() and view.settings() == Settings()
    view.host_edit.setText("unix:///run/elsewhere/doca.sock")
    view.data_root_edit.setText("/srv/doca")
    view.start_engine_box.setChecked(False)
    view.login_box.setChecked(True)
    finish(qtbot, view.save())
    assert "Saved" in view.status.text() and "next" in view.status.text()
    assert files.autostart.is_file()
    assert "Exec=/opt/doca/bin/doca-desktop --hidden" in files.autostart.read_text()

    view.host_edit.setText("somewhere")
    view.login_box.setChecked(False)
    finish(qtbot, view.reload())  # Revert
    assert view.settings() == Settings("unix:///run/elsewhere/doca.sock", "/srv/doca", False, True)

    view.login_box.setChecked(False)
    finish(qtbot, view.save())
    assert not files.autostart.exists()
    assert files.load().start_at_login is False


def test_settings_page_shows_problems(
    qtbot: QtBot, view: SettingsView, files: SettingsFiles
) -> None:
    assert view.loaded == Settings()
    view.data_root_edit.setText("not/absolute")
    assert view.save() is None
    assert "absolute" in view.status.text() and not files.settings.exists()
    files.settings.parent.mkdir(parents=True)
    files.settings.write_text("[]")
    task = view.reload()
    qtbot.waitUntil(task.done, timeout=3000)
    assert "Cannot read the settings" in view.status.text()
    assert "Traceback" not in view.status.text()
    broken = SettingsView(files, TaskOwner("test-broken-settings"))  # built on a broken file
    qtbot.addWidget(broken)
    assert broken.loaded is None and broken.settings() == Settings()
    assert broken.status.text().startswith("Cannot read the settings: ")
