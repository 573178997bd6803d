"""The Engines dialog: the app's local engine and the docker CLI's contexts, each probed (a
second real engine answers, a missing socket does not), and "Use" switching the whole app to
another engine — the runner starts the app again on it and remembers the choice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app import main as desktop_main
from desktop_app.desktop import DesktopApp
from desktop_app.state.engines import LOCAL, list_engines
from desktop_app.state.settings import SettingsFiles
from doca.client.context_store import Context, ContextStore, endpoint_meta
from tests.desktop.qtwait import finish, run
from tests.support.engine import DockerCLI, EngineProcess, running_engine
from tests.support.testimage import TestImage

pytestmark = pytest.mark.e2e
MISSING = "unix:///nonexistent/doca.sock"


@pytest.fixture(scope="module")
def other_engine(engine: EngineProcess) -> Iterator[EngineProcess]:
    with running_engine() as process:
        yield process


@pytest.fixture
def contexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_engine: EngineProcess) -> Path:
    config = tmp_path / "docker-config"
    store = ContextStore(config)
    store.save(Context("other", {"Description": "a second engine"},
                       {"docker": endpoint_meta(other_engine.host)}))  # fmt: skip
    store.save(Context("gone", {}, {"docker": endpoint_meta(MISSING)}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return config


def test_the_local_engine_comes_first_then_the_contexts(contexts: Path) -> None:
    engines = list_engines("unix:///run/local.sock", contexts)
    assert (engines[0].name, engines[0].host) == (LOCAL, "unix:///run/local.sock")
    assert [e.name for e in engines[1:]] == ["gone", "other"]
    assert engines[2].description == "a second engine"


def test_the_dialog_probes_each_engine_and_use_switches_the_app(
    qtbot: QtBot, desktop: DesktopApp, contexts: Path, engine: EngineProcess,
    other_engine: EngineProcess,
) -> None:  # fmt: skip
    dialog = desktop.window.show_engines()
    assert dialog.task is not None
    finish(qtbot, dialog.task, timeout=30)
    assert dialog.column_texts("Name") == [LOCAL, "gone", "other"]
    states = dict(zip(dialog.column_texts("Name"), dialog.column_texts("State"), strict=True))
    assert states[LOCAL] == states["other"] == "reachable"
    assert states["gone"].startswith("unreachable: ")
    assert dialog.column_texts("In use") == ["yes", "", ""]
    assert dialog.column_texts("Version")[2]  # the other engine said its version

    dialog.table.selectRow(0)
    assert not dialog.use_button.isEnabled()  # already in use
    dialog.table.selectRow(2)
    assert dialog.use_selected() == other_engine.host
    assert desktop.switch_to == other_engine.host
    assert desktop.quit_requested.is_set()


def test_the_runner_starts_the_app_again_on_the_chosen_engine(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, engine: EngineProcess,
    other_engine: EngineProcess, contexts: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, loaded_busybox: TestImage,
) -> None:  # fmt: skip
    other = DockerCLI(other_engine.host, contexts, other_engine.last_error)
    other("load", "-i", str(loaded_busybox.save_tar))
    other("create", "--name", "on-the-other-engine", "busybox", "true")
    apps: list[DesktopApp] = []

    class Recorded(DesktopApp):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            apps.append(self)

    monkeypatch.setattr(desktop_main, "DesktopApp", Recorded)
    files = SettingsFiles(tmp_path / "desktop.json", tmp_path / "autostart.desktop")
    args = desktop_main.parse_args(["--host", engine.host, "--no-start-engine", "--hidden"])
    args.local_host = engine.host
    runner = qloop.create_task(desktop_main.run_desktop(qtbot, args, files))  # type: ignore[arg-type]
    try:
        qtbot.waitUntil(lambda: len(apps) == 1 and apps[0].session.containers.loaded,
                        timeout=15_000)  # fmt: skip
        apps[0].switch_engine(other_engine.host)
        qtbot.waitUntil(lambda: len(apps) == 2 and apps[1].session.containers.loaded,
                        timeout=15_000)  # fmt: skip
        names = apps[1].window.containers.model.column_texts("Name")
        assert "on-the-other-engine" in names
        assert apps[1].supervisor.host == other_engine.host
        assert not apps[1].supervisor.can_start  # another engine is only connected to
        saved = json.loads((tmp_path / "desktop.json").read_text())
        assert saved["active_host"] == other_engine.host
        apps[1].quit_requested.set()
        assert finish(qtbot, runner, timeout=15) == 0
    finally:
        other("rm", "-f", "on-the-other-engine", check=False)
        if not runner.done():
            for app in apps:
                app.quit_requested.set()
            run(qtbot, asyncio.wait_for(runner, 15))
