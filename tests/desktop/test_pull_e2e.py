"""The desktop app pulls from Debian's docker-registry (htpasswd, on loopback) into a real
doca-engine through the Pull dialog, with the credentials `docker login` left in the config."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_status import EngineState
from desktop_app.engine_supervisor import EngineSupervisor
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import finish, run
from tests.e2e.test_pull_push import PASSWORD, USER, Registry, needs_registry, registry
from tests.support.engine import DockerCLI, EngineProcess
from tests.support.testimage import TestImage

pytestmark = [pytest.mark.e2e, needs_registry]

__all__ = ["registry"]  # the module-scoped registry fixture, shared with the CLI's tests


@pytest.fixture(scope="module")
def pushed(engine: EngineProcess, registry: Registry, test_image: TestImage) -> Iterator[str]:
    """The test image pushed to the registry by the docker CLI, then removed from the engine;
    the CLI's config (with its plaintext login) is the one the app reads."""
    config_dir = engine.root / "desktop-pull-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    # An auths entry keeps the CLI from choosing a desktop keychain helper (it needs D-Bus).
    (config_dir / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    cli = DockerCLI(engine.host, config_dir)
    cli("load", "-i", str(test_image.save_tar))
    login = cli("login", registry.address, "-u", USER, "--password-stdin", input=PASSWORD.encode())
    assert "Login Succeeded" in login.stdout
    reference = f"{registry.address}/desk/busybox:1"
    cli("tag", test_image.repo_tag, reference)
    cli("push", reference)
    cli("rmi", "-f", test_image.image_id)
    yield reference


@pytest.fixture
def desktop(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    engine: EngineProcess,
    prompts: AnsweringPrompts,
    pushed: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DesktopApp]:
    monkeypatch.setenv("DOCKER_CONFIG", str(engine.root / "desktop-pull-config"))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    app = DesktopApp(EngineSupervisor(engine.host, None), prompts=prompts)
    qtbot.addWidget(app.window)
    app.start()
    qtbot.waitUntil(lambda: app.supervisor.status.state is EngineState.RUNNING, timeout=10_000)
    qtbot.waitUntil(lambda: all(s.loaded for s in app.session.stores), timeout=10_000)
    yield app
    run(qtbot, app.aclose())


def test_pull_through_the_dialog_with_progress(
    qtbot: QtBot, desktop: DesktopApp, pushed: str, prompts: AnsweringPrompts
) -> None:
    panel = desktop.window.images
    assert pushed not in panel.model.column_texts("Repository:Tag")
    panel.pull_action.trigger()
    dialog = panel.pull_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reference_edit.setText(pushed)
    fractions: list[int] = []
    dialog.bar.valueChanged.connect(fractions.append)
    progress = finish(qtbot, dialog.start(), timeout=60)

    assert prompts.errors == []
    assert progress.error == ""
    assert progress.status == f"Status: Downloaded newer image for {pushed}"
    assert progress.digest.startswith("sha256:")
    assert dialog.bar.value() == dialog.bar.maximum()
    assert fractions == sorted(fractions) and fractions[-1] == dialog.bar.maximum()
    assert dialog.status_text.text() == f"Downloaded newer image for {pushed}"
    layers = dialog.layer_texts()
    assert layers and all(text.endswith(": Pull complete") for text in layers)
    assert dialog.start_button.isEnabled()
    # The images list shows the pulled image without a click.
    qtbot.waitUntil(lambda: pushed in panel.model.column_texts("Repository:Tag"), timeout=5000)

    again = finish(qtbot, dialog.start(), timeout=60)
    assert again.status == f"Status: Image is up to date for {pushed}"
    assert all(text.endswith(": Already exists") for text in dialog.layer_texts())
    dialog.reject()
    assert not dialog.isVisible()


def test_a_wrong_reference_shows_the_engines_error(
    qtbot: QtBot, desktop: DesktopApp, registry: Registry, prompts: AnsweringPrompts
) -> None:
    dialog = desktop.window.images.open_pull_dialog(f"{registry.address}/desk/busybox:nope")
    task = dialog.start()
    assert task is not None
    qtbot.waitUntil(task.done, timeout=30_000)
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=5000)
    title, text = prompts.errors[0]
    assert title == f"Could not pull {registry.address}/desk/busybox:nope"
    assert "manifest unknown" in text and "Traceback" not in text
    assert dialog.status_text.text() == f"Error: {text}"
    assert dialog.start_button.isEnabled()

    prompts.errors.clear()
    dialog.reference_edit.setText("Not/A:Valid:Reference")
    task = dialog.start()
    assert task is not None
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=10_000)
    assert "invalid reference format" in prompts.errors[0][1]
