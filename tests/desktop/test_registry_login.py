"""Logging in and out of a registry from the Registries dialog, against a real doca-engine and
Debian's registry with a password: the engine checks the login (a wrong password is shown in
the dialog and nothing is kept), the login lands where `docker login` puts it (here plaintext
``auths``, as no helper is configured) and the docker CLI can then push; log out erases it; the
doctor's findings name the plaintext login."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.state.registry_login import LoginFailed, LoginRequest, log_in
from desktop_app.tasks import TaskOwner
from desktop_app.views.registries_view import RegistriesDialog
from doca.client import EngineClient, EngineError
from tests.desktop.qtwait import finish, run
from tests.e2e.test_pull_push import PASSWORD, USER, Registry, needs_registry, registry
from tests.support.engine import DockerCLI, EngineProcess

__all__ = ["registry"]  # the module-scoped fixture, used by name

pytestmark = [pytest.mark.e2e, needs_registry]
OTHER = "other.invalid:5000"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker-config"
    directory.mkdir()
    # A login already in plaintext: the docker CLI then keeps new ones there too, instead of
    # picking the machine's default credential store.
    other = {"auths": {OTHER: {"auth": base64.b64encode(b"someone:else").decode()}}}
    (directory / "config.json").write_text(json.dumps(other))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    return directory


def auths(config_dir: Path) -> dict[str, object]:
    return dict(json.loads((config_dir / "config.json").read_text()).get("auths") or {})


def test_a_form_without_a_password_is_refused_before_the_engine_is_asked() -> None:
    assert LoginRequest("x", "", "p").problem() == "Username is required"
    assert LoginRequest("x", "u", "").problem() == "Password is required"

    async def attempt() -> None:
        async with EngineClient("unix:///nonexistent") as client:
            await log_in(client, LoginRequest("x", "u", ""))

    with pytest.raises(LoginFailed, match="Password is required"):
        asyncio.run(attempt())


def test_log_in_push_log_out_and_check_from_the_dialog(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    engine: EngineProcess,
    docker: DockerCLI,
    registry: Registry,
    config_dir: Path,
    loaded_busybox: object,
) -> None:
    tasks = TaskOwner("test")
    client = EngineClient(engine.host)
    dialog = RegistriesDialog(tasks, config_dir, client=client)
    qtbot.addWidget(dialog)
    finish(qtbot, dialog.refresh())
    try:
        form = dialog.open_login()
        form.server_edit.setText(registry.address)
        assert form.keeper.text() == "The login will be kept by: plaintext in config.json"
        form.username_edit.setText(USER)
        form.password_edit.setText("not the password")
        form.accept()
        assert form.task is not None
        qtbot.waitUntil(form.task.done, timeout=15_000)
        assert isinstance(form.task.exception(), EngineError)
        assert "unauthorized" in form.problem.text().lower()
        assert form.isVisible() and form.password_edit.text() == ""
        assert list(auths(config_dir)) == [OTHER]

        form.password_edit.setText(PASSWORD)
        form.accept()
        assert finish(qtbot, form.task, timeout=15) == "Login Succeeded"
        assert not form.isVisible()
        qtbot.waitUntil(lambda: registry.address in dialog.column_texts("Registry"))
        assert dialog.column_texts("Username") == sorted(
            ["someone", USER], key=lambda u: {"someone": OTHER, USER: registry.address}[u]
        )
        assert PASSWORD not in dialog.all_texts()
        assert registry.address in auths(config_dir)

        # The docker CLI finds the login where the app put it.
        cli = DockerCLI(engine.host, config_dir, engine.last_error)
        cli("tag", "busybox", f"{registry.address}/app/busybox:1")
        cli("push", f"{registry.address}/app/busybox:1")

        found = finish(qtbot, dialog.check())
        assert any(registry.address in f and "plaintext" in f for f in found.findings)
        assert "stored in plaintext" in dialog.doctor_text.toPlainText()

        dialog.table.selectRow(dialog.column_texts("Registry").index(registry.address))
        finish(qtbot, dialog.log_out_selected())
        qtbot.waitUntil(lambda: dialog.column_texts("Registry") == [OTHER])
        assert list(auths(config_dir)) == [OTHER]
        refused = cli("push", f"{registry.address}/app/busybox:1", check=False)
        assert refused.returncode != 0
    finally:
        docker("rmi", f"{registry.address}/app/busybox:1", check=False)
        run(qtbot, tasks.aclose())
        run(qtbot, client.close())
