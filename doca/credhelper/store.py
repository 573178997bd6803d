"""Secrets in the OS keychain through `keyring`, the URL → username index beside it.

Each login is one keychain item: service `docker-credential-doca`, account = the server URL as
stored, password = JSON `{"Username", "Secret"}` (so identity tokens, Username `<token>`, survive).
Only secure backends are used: the fail/null backends and plaintext files (keyrings.alt) are
refused with an error saying how to get a real keychain; from a chainer only its secure backends
are used, so nothing ever falls back to plaintext silently.
"""

from __future__ import annotations

import json
from typing import Any

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer

from doca.credhelper import protocol
from doca.credhelper.index import Index

SERVICE = "docker-credential-doca"

FIX_HINT = (
    "install and start a Secret Service, e.g. `apt-get install gnome-keyring` and log in to a "
    "desktop session (or run `gnome-keyring-daemon --start --components=secrets` inside a D-Bus "
    "session), or KWallet; on macOS/Windows the system keychain is used automatically. "
    "If PYTHON_KEYRING_BACKEND or a keyringrc.cfg selects a plaintext/null backend, remove it."
)


class StoreError(Exception):
    """A keychain problem; the message is printed to stdout and the helper exits 1."""


class NotFound(StoreError):
    def __init__(self) -> None:
        super().__init__(protocol.NOT_FOUND)


def _name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_insecure(backend: Any) -> bool:
    """Backends that would not keep a secret safely (or at all)."""
    name = _name(backend)
    return (
        name.startswith(("keyring.backends.fail.", "keyring.backends.null."))
        or name.startswith("keyrings.alt.file.")  # plaintext or password-prompting files
        or "plaintext" in name.lower()
    )


def secure_backend(backend: Any) -> keyring.backend.KeyringBackend:
    """`backend` itself, or a chainer's best secure member; StoreError if there is none."""
    if isinstance(backend, chainer.ChainerBackend):
        members = list(backend.backends)
        for member in members:  # already sorted by priority, best first
            if not is_insecure(member):
                return member
        found = ", ".join(_name(m) for m in members) or "none"
    elif not is_insecure(backend):
        return backend
    else:
        found = _name(backend)
    raise StoreError(
        f"no secure keychain available (keyring backend: {found}); docker-credential-doca never "
        f"stores secrets in plaintext. To fix: {FIX_HINT}"
    )


class CredentialStore:
    def __init__(self, backend: Any = None, index: Index | None = None) -> None:
        self._backend_arg = backend
        self._backend: keyring.backend.KeyringBackend | None = None
        self.index = index if index is not None else Index()

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        if self._backend is None:
            chosen = self._backend_arg if self._backend_arg is not None else keyring.get_keyring()
            self._backend = secure_backend(chosen)
        return self._backend

    # keychain primitives -------------------------------------------------------------

    def _kc_get(self, url: str) -> tuple[str, str] | None:
        try:
            raw = self.backend.get_password(SERVICE, url)
        except keyring.errors.KeyringError as exc:
            raise StoreError(f"keychain error reading {url}: {exc}") from None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return str(data["Username"]), str(data["Secret"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(
                f"keychain item for {url} is not a docker-credential-doca item"
            ) from None

    def _kc_set(self, url: str, username: str, secret: str) -> None:
        blob = json.dumps({"Username": username, "Secret": secret})
        try:
            self.backend.set_password(SERVICE, url, blob)
        except keyring.errors.KeyringError as exc:
            raise StoreError(f"keychain error storing {url}: {exc}") from None

    def _kc_delete(self, url: str) -> bool:
        try:
            self.backend.delete_password(SERVICE, url)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringError as exc:
            raise StoreError(f"keychain error erasing {url}: {exc}") from None
        return True

    def _candidates(self, url: str, entries: dict[str, str]) -> list[str]:
        """`url` itself first, then indexed spellings of the same registry."""
        return [url, *sorted(e for e in entries if e != url and protocol.same_registry(e, url))]

    # protocol actions ----------------------------------------------------------------

    def store(self, creds: protocol.Credentials) -> None:
        self.backend  # noqa: B018 - refuse insecure backends before touching anything
        with self.index.locked():
            entries = self.index.read()
            # One login per registry: drop other spellings of the same registry first.
            for other in self._candidates(creds.server_url, entries)[1:]:
                self._kc_delete(other)
                entries.pop(other, None)
            self._kc_set(creds.server_url, creds.username, creds.secret)
            entries[creds.server_url] = creds.username
            self.index.write(entries)

    def get(self, url: str) -> tuple[str, str]:
        entries = self.index.read()
        for candidate in self._candidates(url, entries):
            found = self._kc_get(candidate)
            if found is not None:
                return found
        raise NotFound()

    def erase(self, url: str) -> None:
        self.backend  # noqa: B018
        with self.index.locked():
            entries = self.index.read()
            erased = False
            for candidate in self._candidates(url, entries):
                erased = self._kc_delete(candidate) or erased
                if entries.pop(candidate, None) is not None:
                    erased = True
            # Like the reference secretservice helper, erasing what is not there succeeds.
            if erased:
                self.index.write(entries)

    def list(self) -> dict[str, str]:
        self.backend  # noqa: B018
        return self.index.read()
