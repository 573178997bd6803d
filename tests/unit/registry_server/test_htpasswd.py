"""htpasswd parsing and Basic credential checks."""

from __future__ import annotations

import base64
from pathlib import Path

import bcrypt
import pytest

from engine.errors import InvalidParameter
from engine.registry_server.htpasswd import Htpasswd, basic_credentials, parse_htpasswd


def _hash(password: bytes) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode()


def test_bcrypt_entries_are_accepted() -> None:
    text = f"# comment\n\nalice:{_hash(b'a').replace('$2b$', '$2y$')}\nbob:{_hash(b'b')}\n"
    users = parse_htpasswd(text)
    assert sorted(users) == ["alice", "bob"]


@pytest.mark.parametrize(
    "entry",
    [
        "alice:$apr1$abc$defghijklmnopqrstuvwx",
        "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "alice:plaintext",
        "alice:rl5ah/JuvZwbM",
        "no-colon",
        ":$2y$05$" + "a" * 53,
    ],
)
def test_other_hash_kinds_are_refused(entry: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_htpasswd(entry, "users.htpasswd")
    assert "users.htpasswd:1" in caught.value.message


def test_refusal_message_names_the_user_and_the_fix() -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_htpasswd("alice:$apr1$x$y")
    assert "'alice'" in caught.value.message and "htpasswd -B" in caught.value.message


def test_load_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    long_password = b"p" * 80
    path.write_text(f"alice:{_hash(b'secret')}\ncarol:{_hash(long_password[:72])}\n")
    users = Htpasswd.load(path)
    assert users.verify("alice", "secret")
    assert users.verify("alice", "secret")  # cached
    assert not users.verify("alice", "Secret")
    assert not users.verify("mallory", "secret")
    # bcrypt only sees 72 bytes, as htpasswd -B does.
    assert users.verify("carol", long_password.decode())


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        Htpasswd.load(tmp_path / "missing")


def test_basic_credentials() -> None:
    token = base64.b64encode(b"alice:pa:ss").decode()
    assert basic_credentials(f"Basic {token}") == ("alice", "pa:ss")
    assert basic_credentials(f"basic {token}") == ("alice", "pa:ss")
    assert basic_credentials(None) is None
    assert basic_credentials("Bearer abc") is None
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None
