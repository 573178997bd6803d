"""The store logic and CLI dispatch against an in-memory keychain; backend refusal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail, null

from doca.credhelper import protocol
from doca.credhelper.index import Index
from doca.credhelper.main import run
from doca.credhelper.store import CredentialStore, StoreError, secure_backend


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's PlaintextKeyring (the name is what is judged)."""


@pytest.fixture
def kc() -> MemoryKeyring:
    return MemoryKeyring()


def call(store: CredentialStore, action: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = run([action], io.StringIO(stdin), out, store=store)
    return code, out.getvalue()


def make(kc: keyring.backend.KeyringBackend, tmp_path: Path) -> CredentialStore:
    return CredentialStore(backend=kc, index=Index(tmp_path / "idx"))


def test_round_trip(kc: MemoryKeyring, tmp_path: Path) -> None:
    s = make(kc, tmp_path)
    creds = {"ServerURL": "localhost:5000", "Username": "alice", "Secret": "pw1"}
    assert call(s, "store", json.dumps(creds)) == (0, "")
    code, out = call(s, "get", "localhost:5000\n")
    assert code == 0
    assert json.loads(out) == creds
    # Other spellings of the same registry find it; output echoes the URL asked for.
    code, out = call(s, "get", "https://localhost:5000/")
    assert (code, json.loads(out)["Secret"]) == (0, "pw1")
    assert json.loads(out)["ServerURL"] == "https://localhost:5000/"
    assert call(s, "list") == (0, '{"localhost:5000":"alice"}\n')
    assert call(s, "erase", "http://localhost:5000") == (0, "")
    assert call(s, "get", "localhost:5000") == (1, protocol.NOT_FOUND + "\n")
    assert call(s, "list") == (0, "{}\n")
    assert kc.items == {}


def test_secret_not_in_index(kc: MemoryKeyring, tmp_path: Path) -> None:
    s = make(kc, tmp_path)
    call(s, "store", '{"ServerURL":"docker.io","Username":"<token>","Secret":"tok-SECRET"}')
    assert "tok-SECRET" not in s.index.path.read_text()
    code, out = call(s, "get", "https://index.docker.io/v1/")
    assert code == 0
    assert json.loads(out)["Username"] == "<token>"


def test_restore_replaces_other_spelling(kc: MemoryKeyring, tmp_path: Path) -> None:
    s = make(kc, tmp_path)
    call(s, "store", '{"ServerURL":"https://r.example/","Username":"a","Secret":"1"}')
    call(s, "store", '{"ServerURL":"r.example","Username":"b","Secret":"2"}')
    assert call(s, "list") == (0, '{"r.example":"b"}\n')
    assert json.loads(call(s, "get", "https://r.example")[1])["Secret"] == "2"
    assert len(kc.items) == 1


def test_get_missing_exact_message(kc: MemoryKeyring, tmp_path: Path) -> None:
    assert call(make(kc, tmp_path), "get", "r.example") == (
        1,
        "credentials not found in native keychain\n",
    )


def test_erase_missing_succeeds_like_secretservice(kc: MemoryKeyring, tmp_path: Path) -> None:
    assert call(make(kc, tmp_path), "erase", "r.example") == (0, "")


@pytest.mark.parametrize(
    ("action", "stdin"),
    [
        ("store", ""),
        ("store", "{"),
        ("store", '{"ServerURL":"r.example","Username":"u"}'),
        ("store", '{"ServerURL":"r ex","Username":"u","Secret":"p"}'),
        ("get", ""),
        ("get", "ftp://r.example"),
        ("erase", ""),
        ("erase", "r.ex\tample"),
    ],
)
def test_bad_input_errors_and_keychain_unchanged(
    kc: MemoryKeyring, tmp_path: Path, action: str, stdin: str
) -> None:
    s = make(kc, tmp_path)
    call(s, "store", '{"ServerURL":"r.example","Username":"u","Secret":"p"}')
    before = dict(kc.items)
    code, out = call(s, action, stdin)
    assert code == 1
    assert out.strip()
    assert kc.items == before
    assert s.index.read() == {"r.example": "u"}


def test_usage_and_unknown_action(kc: MemoryKeyring, tmp_path: Path) -> None:
    s = make(kc, tmp_path)
    out = io.StringIO()
    assert run([], io.StringIO(), out, store=s) == 1
    assert out.getvalue().startswith("Usage: docker-credential-doca <store|get|erase|list|version>")
    assert call(s, "frobnicate") == (1, "Unknown credential action `frobnicate`\n")


def test_version() -> None:
    out = io.StringIO()
    assert run(["version"], io.StringIO(), out) == 0
    assert out.getvalue().startswith("docker-credential-doca (doca) ")


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring(), PlaintextKeyring()])
def test_insecure_backends_refused(backend: keyring.backend.KeyringBackend, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no secure keychain"):
        secure_backend(backend)
    s = make(backend, tmp_path)
    code, out = call(s, "store", '{"ServerURL":"r.example","Username":"u","Secret":"p"}')
    assert code == 1
    assert "never stores secrets in plaintext" in out
    assert "gnome-keyring" in out
    assert not s.index.path.exists()
    for action, stdin in (("list", ""), ("erase", "r.example")):
        assert call(s, action, stdin)[0] == 1


def test_secure_backend_accepts_real_keychain_class(kc: MemoryKeyring) -> None:
    assert secure_backend(kc) is kc
