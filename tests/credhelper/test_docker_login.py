"""The real docker CLI with `credsStore: doca`: `docker login` / `logout` against Debian's
`docker-registry` (htpasswd) keep the secret in a real Secret Service, never in config.json.

With no engine reachable the docker CLI logs in client-side, so only the registry is needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from doca.credhelper import dockerconfig as dc
from doca.credhelper.protocol import NOT_FOUND
from tests.credhelper.test_e2e_secretservice import Session, session  # noqa: F401
from tests.e2e.test_registry_client import Registry, registry  # noqa: F401
from tests.support.engine import EngineProcess
from tests.support.testimage import TestImage

DOCKER = "/usr/local/bin/docker"
VENV_BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(DOCKER).exists(), reason=f"the docker CLI is not at {DOCKER}"),
]


@dataclass
class Desk:
    session: Session
    env: dict[str, str]
    config_dir: Path

    def docker(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=60
        )

    def config(self) -> object:
        return json.loads((self.config_dir / "config.json").read_text())


@pytest.fixture
def desk(session: Session, tmp_path: Path) -> Desk:  # noqa: F811
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"credsStore": "doca"}')
    env = {
        **session.env,
        "PATH": f"{VENV_BIN}:{session.env['PATH']}",
        "DOCKER_CONFIG": str(config_dir),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}",
    }
    return Desk(session, env, config_dir)


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_login_and_logout_go_through_the_helper(
    desk: Desk,
    registry: Registry,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = registry.address
    login = desk.docker("login", "-u", registry.user, "--password-stdin", address,
                        stdin=registry.password)  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout

    assert desk.config() == {"auths": {address: {}}, "credsStore": "doca"}
    code, out = desk.session.run("get", address)
    assert code == 0
    assert json.loads(out) == {
        "ServerURL": address,
        "Username": registry.user,
        "Secret": registry.password,
    }
    assert _files_containing(desk.config_dir, registry.password) == []
    assert _files_containing(desk.session.home, registry.password) == []

    # The lookup the doca CLI and the desktop app use finds the same login.
    for name, value in desk.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    assert dc.credentials_for(f"https://{address}/") == (registry.user, registry.password)

    logout = desk.docker("logout", address)
    assert logout.returncode == 0, logout.stderr
    assert desk.session.run("get", address) == (1, NOT_FOUND + "\n")
    assert desk.config() == {"auths": {}, "credsStore": "doca"}
    assert dc.credentials_for(address) is None


def test_wrong_password_stores_nothing(desk: Desk, registry: Registry) -> None:  # noqa: F811
    login = desk.docker("login", "-u", registry.user, "--password-stdin", registry.address,
                        stdin="not-the-password")  # fmt: skip
    assert login.returncode != 0
    # The CLI's client-side login (no engine): "login attempt to … failed with status: 401 …".
    assert "401 Unauthorized" in login.stderr, login.stderr
    assert "Login Succeeded" not in login.stdout
    code, out = desk.session.run("list")
    assert (code, json.loads(out)) == (0, {})
    assert desk.config() == {"credsStore": "doca"}


def test_push_and_pull_use_the_helper_login(
    desk: Desk,
    registry: Registry,  # noqa: F811
    engine: EngineProcess,
    loaded_busybox: TestImage,
) -> None:
    """The engine gets the keychain's login in X-Registry-Auth: without it the pull fails."""
    desk.env["DOCKER_HOST"] = engine.host
    wrong = desk.docker("login", "-u", registry.user, "--password-stdin", registry.address,
                        stdin="not-the-password")  # fmt: skip
    assert wrong.returncode != 0
    assert wrong.stderr.startswith("Error response from daemon: "), wrong.stderr
    assert "401 Unauthorized" in wrong.stderr
    assert desk.session.run("list") == (0, "{}\n")
    image = f"{registry.address}/doca/busybox:creds"
    steps = [
        ("login", "-u", registry.user, "--password-stdin", registry.address),
        ("tag", loaded_busybox.repo_tag, image),
        ("push", image),
        ("rmi", image),
        ("pull", image),
    ]
    for args in steps:
        result = desk.docker(*args, stdin=registry.password if args[0] == "login" else None)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert _files_containing(desk.config_dir, registry.password) == []
    listed = desk.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert image in listed

    assert desk.docker("rmi", image).returncode == 0
    assert desk.docker("logout", registry.address).returncode == 0
    denied = desk.docker("pull", image)
    assert denied.returncode != 0
    assert "unauthorized" in denied.stderr
