"""Basic authentication against an htpasswd file of bcrypt entries (``htpasswd -B``).

Only bcrypt is accepted: the other kinds htpasswd can write (MD5-crypt, SHA-1, crypt, plain)
are too weak to guard a registry, so a file holding one is refused when the server starts.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from engine.errors import InvalidParameter

_BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
# bcrypt looks at no more than 72 bytes; htpasswd -B truncates the same way.
_BCRYPT_MAX = 72
# Checked when the user is unknown, so that a wrong user costs as much time as a wrong password.
_DUMMY_HASH = b"$2b$05$" + b"C" * 53
_CACHE_MAX = 1024


def parse_htpasswd(text: str, source: str = "htpasswd") -> dict[str, bytes]:
    """Users and their bcrypt hashes; lines starting with ``#`` and blank lines are skipped."""
    entries: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, hashed = entry.partition(":")
        if not sep or not user:
            raise InvalidParameter(f"{source}:{number}: not a 'user:hash' entry")
        if not hashed.startswith(_BCRYPT_PREFIXES):
            raise InvalidParameter(
                f"{source}:{number}: user {user!r} has a password hash that is not bcrypt; "
                "only bcrypt entries are accepted (create them with 'htpasswd -B')"
            )
        entries[user] = hashed.encode()
    return entries


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """User and password of an ``Authorization: Basic`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


@dataclass
class Htpasswd:
    users: dict[str, bytes]
    # Keyed digests of credentials already verified, so a push's many requests pay for
    # bcrypt once; the key never leaves the process.
    _verified: set[bytes] = field(default_factory=set, init=False, repr=False)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), init=False, repr=False)

    @classmethod
    def load(cls, path: Path) -> Htpasswd:
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"cannot read htpasswd file {path}: {exc}") from exc
        return cls(parse_htpasswd(text, str(path)))

    def verify(self, user: str, password: str) -> bool:
        """Whether the password is the user's; blocking (bcrypt), so call it off the loop."""
        token = hmac.new(self._key, f"{user}\0{password}".encode(), "sha256").digest()
        if token in self._verified:
            return True
        hashed = self.users.get(user)
        candidate = password.encode()[:_BCRYPT_MAX]
        try:
            ok = bcrypt.checkpw(candidate, hashed or _DUMMY_HASH) and hashed is not None
        except ValueError:
            ok = False
        if ok:
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified.add(token)
        return ok
