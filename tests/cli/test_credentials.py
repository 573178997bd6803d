"""`doca credentials doctor | migrate | use` on temp DOCKER_CONFIG dirs.

The installed `doca` runs against a real Secret Service (the fixture of the helper's end-to-end
tests); failure paths run in-process with a keyring backend set the way tests/credhelper does.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from click.testing import CliRunner
from keyring.backends import null

from doca.cli import credentials as creds_cli
from doca.cli.main import cli
from doca.credhelper import dockerconfig as dc
from tests.credhelper.test_e2e_secretservice import Session, session  # noqa: F401
from tests.credhelper.test_store import MemoryKeyring

VENV_BIN = Path(sys.executable).parent
SECRET = "Pa55-migrate-e2e-4f1d"
TOKEN = "idtoken-migrate-e2e-77aa"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PLAINTEXT_CONFIG: dict[str, Any] = {
    "psFormat": "table {{.Names}}",
    "auths": {
        "r.example:5000": {"auth": b64(f"alice:{SECRET}"), "email": "a@example.com"},
        "https://index.docker.io/v1/": {"identitytoken": TOKEN},
        "already.example": {},
    },
    "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
}


@dataclass
class Desk:
    """A user with a real keychain and a docker config dir of their own."""

    session: Session
    env: dict[str, str]
    config_dir: Path

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.json"

    def write(self, data: dict[str, Any]) -> bytes:
        raw = json.dumps(data, indent="\t").encode()
        self.config_path.write_bytes(raw)
        return raw

    def config(self) -> Any:
        return json.loads(self.config_path.read_text())

    def doca(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "doca"), "credentials", *args],
            capture_output=True,
            text=True,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    def keychain(self) -> Any:
        code, out = self.session.run("list")
        assert code == 0, out
        return json.loads(out)

    def backups(self) -> list[Path]:
        return sorted(self.config_dir.glob("config.json.bak-*"))


@pytest.fixture
def desk(session: Session, tmp_path: Path) -> Desk:  # noqa: F811
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    env = {
        **session.env,
        "PATH": f"{VENV_BIN}:{session.env['PATH']}",
        "DOCKER_CONFIG": str(config_dir),
        "NO_COLOR": "1",
    }
    return Desk(session, env, config_dir)


def test_doctor_flags_plaintext_without_printing_secrets(desk: Desk) -> None:
    desk.write({**PLAINTEXT_CONFIG, "credHelpers": {"gcr.io": "nosuch"}})
    result = desk.doca("doctor")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"Config:       {desk.config_path}" in out
    assert "credsStore:   (not set)" in out
    assert "gcr.io → nosuch" in out
    assert "docker-credential-nosuch is not installed (not found on PATH); install it" in out
    assert "Plaintext:    r.example:5000, https://index.docker.io/v1/\n" in out
    assert "! r.example:5000: login stored in plaintext in config.json; run `doca cred" in out
    assert "run `doca credentials use`" in out
    assert "SecretService" in out and "(secure for docker-credential-doca)" in out
    for secret in (SECRET, TOKEN, b64(f"alice:{SECRET}")):
        assert secret not in out


def test_migrate_moves_secrets_into_the_keychain(desk: Desk) -> None:
    original = desk.write(PLAINTEXT_CONFIG)
    result = desk.doca("migrate", "--yes", "--use")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Moved 2 login(s) into the keychain." in result.stdout

    new = desk.config()
    assert list(new) == ["psFormat", "auths", "proxies", "credsStore"]
    assert new["credsStore"] == "doca"
    assert new["proxies"] == PLAINTEXT_CONFIG["proxies"]
    assert new["auths"] == {
        "r.example:5000": {"email": "a@example.com"},
        "https://index.docker.io/v1/": {},
        "already.example": {},
    }
    text = desk.config_path.read_text()
    assert SECRET not in text and TOKEN not in text and 'auth"' not in text

    [backup] = desk.backups()
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert str(backup) in result.stdout

    assert desk.keychain() == {"r.example:5000": "alice", "https://index.docker.io/v1/": "<token>"}
    code, out = desk.session.run("get", "r.example:5000")
    assert (code, json.loads(out)["Secret"]) == (0, SECRET)
    code, out = desk.session.run("get", "docker.io")
    assert (code, json.loads(out)["Secret"]) == (0, TOKEN)

    healthy = desk.doca("doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "Plaintext:    (none)" in healthy.stdout
    assert "docker-credential-doca: answers list" in healthy.stdout
    assert healthy.stdout.endswith("OK: no registry secret is kept in plaintext.\n")


def test_migrate_refuses_without_consent(desk: Desk) -> None:
    original = desk.write(PLAINTEXT_CONFIG)
    result = desk.doca("migrate")
    assert result.returncode == 1
    assert "Refusing to change config.json without consent: pass --yes" in result.stderr
    assert desk.config_path.read_bytes() == original
    assert desk.backups() == []
    assert desk.keychain() == {}


def _run_on_tty(desk: Desk, answer: bytes) -> tuple[int, str]:
    """`doca credentials migrate` with a terminal on stdin, answering its question."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [str(VENV_BIN / "doca"), "credentials", "migrate"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=desk.env,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while b"[y/N]" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                seen += os.read(controller, 4096)
        os.write(controller, answer + b"\n")
        code = proc.wait(timeout=30)
        while select.select([controller], [], [], 0.2)[0]:
            try:
                seen += os.read(controller, 4096)
            except OSError:
                break
    finally:
        proc.kill() if proc.poll() is None else None
        os.close(controller)
    return code, seen.decode(errors="replace")


def test_migrate_asks_on_a_terminal(desk: Desk) -> None:
    original = desk.write(PLAINTEXT_CONFIG)
    code, out = _run_on_tty(desk, b"n")
    assert code == 1 and "into the keychain? [y/N]" in out and "Nothing changed." in out
    assert desk.config_path.read_bytes() == original
    assert desk.keychain() == {}

    code, out = _run_on_tty(desk, b"y")
    assert code == 0, out
    assert "Note: docker reads them only with credsStore doca" in out
    assert "credsStore" not in desk.config()  # only --use sets it
    assert set(desk.keychain()) == {"r.example:5000", "https://index.docker.io/v1/"}


def test_use_and_off(desk: Desk) -> None:
    desk.write({"auths": {"r.example": {"auth": b64("u:p")}}, "detachKeys": "ctrl-x"})
    result = desk.doca("use")
    assert result.returncode == 0, result.stderr
    assert "! r.example: plaintext login now unused; run `doca credentials migrate`" in (
        result.stdout
    )
    assert list(desk.config()) == ["auths", "detachKeys", "credsStore"]
    assert desk.config()["credsStore"] == "doca"
    assert len(desk.backups()) == 1
    assert "already doca" in desk.doca("use").stdout

    off = desk.doca("use", "--off")
    assert off.returncode == 0
    assert desk.config() == {"auths": {"r.example": {"auth": b64("u:p")}}, "detachKeys": "ctrl-x"}


def test_use_needs_the_helper_on_path(desk: Desk) -> None:
    original = desk.write({"auths": {}})
    env = {**desk.env, "PATH": "/usr/bin:/bin"}  # python runs doca; the helper is not found
    result = desk.doca("use", env=env)
    assert result.returncode == 1
    assert "docker-credential-doca is not installed" in result.stderr
    assert desk.config_path.read_bytes() == original
    assert desk.backups() == []


# in-process: keychain failures ------------------------------------------------------------


class BrokenKeyring(MemoryKeyring):
    """Fails on the second item stored, as a keychain locking mid-way would."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.items:
            raise keyring.errors.KeyringError("the keychain was locked")
        super().set_password(service, username, password)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    before = keyring.get_keyring()
    yield config_dir
    keyring.set_keyring(before)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["credentials", *args], catch_exceptions=False)


def test_failed_keychain_write_leaves_everything_as_it_was(local: Path) -> None:
    kc = BrokenKeyring()
    keyring.set_keyring(kc)
    original = json.dumps(PLAINTEXT_CONFIG).encode()
    (local / "config.json").write_bytes(original)
    result = invoke("migrate", "--yes")
    assert result.exit_code == 1
    assert "the keychain was locked" in result.output
    assert "was not changed" in result.output
    assert (local / "config.json").read_bytes() == original
    assert kc.items == {}  # the first item stored was taken back


def test_failed_config_write_takes_back_the_keychain(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kc = MemoryKeyring()
    keyring.set_keyring(kc)
    original = json.dumps(PLAINTEXT_CONFIG).encode()
    (local / "config.json").write_bytes(original)

    def disk_full(config: dc.DockerConfig, data: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dc, "save_config", disk_full)
    result = invoke("migrate", "--yes")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert (local / "config.json").read_bytes() == original
    assert kc.items == {}


def test_insecure_keyring_is_refused(local: Path) -> None:
    keyring.set_keyring(null.Keyring())
    original = json.dumps(PLAINTEXT_CONFIG).encode()
    (local / "config.json").write_bytes(original)
    result = invoke("migrate", "--yes")
    assert result.exit_code == 1 and "no secure keychain" in result.output
    assert (local / "config.json").read_bytes() == original


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"password": "only"}, "needs both a username and a password"),
        ({"registrytoken": "rt"}, "registrytoken cannot be kept"),
        ({"auth": "!!"}, "not base64"),
    ],
)
def test_unmovable_entries_stop_the_migration(local: Path, entry: Any, message: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    data = {"auths": {"good.example": {"auth": b64("u:p")}, "bad.example": entry}}
    (local / "config.json").write_text(json.dumps(data))
    result = invoke("migrate", "--yes")
    assert result.exit_code == 1
    assert message in result.output and "bad.example" in result.output
    assert json.loads((local / "config.json").read_text()) == data


def test_broken_config_is_reported(local: Path) -> None:
    (local / "config.json").write_text("{oops")
    for args in (["doctor"], ["migrate", "--yes"], ["use"]):
        result = invoke(*args)
        assert result.exit_code == 1 and "not valid JSON" in result.output, args
    assert (local / "config.json").read_text() == "{oops"


def test_without_secrets_keeps_everything_else() -> None:
    data = json.loads(json.dumps(PLAINTEXT_CONFIG))
    new = creds_cli.without_secrets(data, ["r.example:5000"])
    assert new["auths"]["r.example:5000"] == {"email": "a@example.com"}
    assert new["auths"]["https://index.docker.io/v1/"] == {"identitytoken": TOKEN}
    assert data == PLAINTEXT_CONFIG  # the input is not changed
    replaced = creds_cli.with_creds_store({"a": 1, "credsStore": "x", "b": 2}, "doca")
    assert list(replaced.items()) == [("a", 1), ("credsStore", "doca"), ("b", 2), ("auths", {})]
    assert creds_cli.with_creds_store(replaced, None) == {"a": 1, "b": 2, "auths": {}}
