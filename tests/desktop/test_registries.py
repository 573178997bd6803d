"""The registry logins of a docker config (plaintext auths, credHelpers, credsStore) listed
without secrets, by ``collect_logins`` and by the Registries dialog; the helpers are fake
``docker-credential-*`` scripts on PATH that log how they were called."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.registries import PLAINTEXT, RegistryLogin, collect_logins
from desktop_app.tasks import TaskOwner
from desktop_app.views.registries_view import RegistriesDialog
from tests.desktop.fakes import AnsweringPrompts, FakeEngineClient
from tests.desktop.qtwait import finish, run

SECRETS = ("plain-s3cret", "helper-s3cret", "store-s3cret", "token-s3cret")


def fake_helper(bin_dir: Path, name: str, listing: dict[str, str], log: Path) -> None:
    """``docker-credential-<name>``: ``list`` prints ``listing``; ``get`` would print a secret."""
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> {log}\n'
        'case "$1" in\n'
        f"  list) echo '{json.dumps(listing)}' ;;\n"
        """  get) echo '{"Username": "u", "Secret": "helper-s3cret"}' ;;\n"""
        "  *) echo unsupported; exit 1 ;;\n"
        "esac\n"
    )
    script.chmod(0o755)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DOCKER_CONFIG with a plaintext login, an identity token, a placeholder, a credHelpers
    entry and a credsStore, and the fake helpers ``x`` (the store) and ``y`` on PATH."""
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "helper-calls.log"
    fake_helper(
        bin_dir,
        "x",
        {"https://index.docker.io/v1/": "hubuser", "store.test": "storeuser"},
        log,
    )
    fake_helper(bin_dir, "y", {"helped.test:5000": "helpeduser", "other.test": "o"}, log)
    auth = base64.b64encode(b"plainuser:plain-s3cret").decode()
    config = {
        "auths": {
            "plain.test:5000": {"auth": auth},
            "token.test": {"identitytoken": "token-s3cret"},
            "https://index.docker.io/v1/": {},  # kept by the store
        },
        "credHelpers": {"helped.test:5000": "y"},
        "credsStore": "x",
    }
    (config_dir / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return config_dir


def test_logins_name_the_store_and_never_ask_for_secrets(docker_config: Path) -> None:
    found = collect_logins()
    assert found.config_path == docker_config / "config.json"
    assert found.problems == []
    assert found.logins == [
        RegistryLogin("helped.test:5000", "helpeduser", "docker-credential-y", True),
        RegistryLogin("https://index.docker.io/v1/", "hubuser", "docker-credential-x", True),
        # credsStore wins over plaintext auths: the CLI would not send these.
        RegistryLogin("plain.test:5000", "plainuser", PLAINTEXT, False),
        RegistryLogin("store.test", "storeuser", "docker-credential-x", True),
        RegistryLogin("token.test", "(identity token)", PLAINTEXT, False),
    ]
    calls = (docker_config.parent / "helper-calls.log").read_text().split()
    assert sorted(calls) == ["list", "list"]  # once per helper, and never `get`
    assert not any(secret in repr(found) for secret in SECRETS)


def test_plaintext_logins_are_used_without_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = base64.b64encode(b"alice:pw").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"reg.test": {"auth": auth}, "placeholder.invalid": {}}})
    )
    found = collect_logins(tmp_path)
    assert found.logins == [RegistryLogin("reg.test", "alice", PLAINTEXT, True)]


def test_a_failing_helper_is_a_problem_not_a_failure(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (docker_config.parent / "bin" / "docker-credential-y").unlink()
    found = collect_logins()
    assert [login.registry for login in found.logins] == [
        "https://index.docker.io/v1/",
        "plain.test:5000",
        "store.test",
        "token.test",
    ]
    assert found.problems == [
        "credential helper docker-credential-y is not installed (not found on PATH)"
    ]


def test_the_dialog_lists_logins_without_secrets(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, docker_config: Path
) -> None:
    tasks = TaskOwner("test")
    dialog = RegistriesDialog(tasks)
    qtbot.addWidget(dialog)
    found = finish(qtbot, dialog.refresh())
    assert len(found.logins) == 5
    assert dialog.column_texts("Registry") == [
        "helped.test:5000",
        "https://index.docker.io/v1/",
        "plain.test:5000",
        "store.test",
        "token.test",
    ]
    assert dialog.column_texts("Username") == [
        "helpeduser",
        "hubuser",
        "plainuser",
        "storeuser",
        "(identity token)",
    ]
    assert dialog.column_texts("Secret kept by") == [
        "docker-credential-y",
        "docker-credential-x",
        PLAINTEXT,
        "docker-credential-x",
        PLAINTEXT,
    ]
    assert dialog.column_texts("Used") == ["yes", "yes", "no", "yes", "no"]
    assert dialog.source.text() == f"5 logins in {docker_config / 'config.json'}"
    assert not dialog.problems.isVisible()
    shown = dialog.all_texts()
    assert not any(secret in shown for secret in SECRETS)

    (docker_config / "config.json").write_text("{broken")
    task = dialog.refresh()
    assert task is not None
    qtbot.waitUntil(task.done)
    assert dialog.table.rowCount() == 0
    assert "not valid JSON" in dialog.problems.text()
    run(qtbot, tasks.aclose())


def test_the_main_window_opens_the_registries(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    docker_config: Path,
    prompts: AnsweringPrompts,
) -> None:
    fake = FakeEngineClient()
    supervisor = EngineSupervisor(fake.host, None, ping=fake.ping)
    app = DesktopApp(supervisor, prompts=prompts, client=fake)  # type: ignore[arg-type]
    qtbot.addWidget(app.window)
    try:
        app.window.registries_action.trigger()
        dialog = app.window.registries
        assert dialog is not None and dialog.isVisible()
        finish(qtbot, dialog.task)
        assert "store.test" in dialog.column_texts("Registry")
    finally:
        run(qtbot, app.aclose())
