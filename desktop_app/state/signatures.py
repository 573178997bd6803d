"""Which images carry a signature the user trusts: each image's repository digest is checked
against the public keys named in the settings, with cosign-format signatures read from its
registry (as `doca trust verify` checks them). Results are kept per digest — a digest's
signatures do not change under it — and the images model shows them as a badge. Qt-free."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.state.settings import SettingsError, SettingsFiles
from doca.cli.registry_commands import parse_reference

VERIFIED = "verified"
UNSIGNED = "not signed"
UNTRUSTED = "not by a trusted key"
# Registries answer slowly or not at all; a badge is not worth more than a few at once.
CONCURRENT_CHECKS = 3

Spawn = Callable[[Coroutine[Any, Any, None], str], object]


@dataclass(frozen=True)
class Verdict:
    text: str  # VERIFIED, UNSIGNED, UNTRUSTED, or "check failed"
    detail: str = ""  # who signed it, or why the check failed

    @property
    def badge(self) -> str:
        return "✓ signed" if self.text == VERIFIED else self.text


def repo_digests(image: dict[str, Any]) -> list[str]:
    return [d for d in image.get("RepoDigests") or [] if "@sha256:" in d]


def _verify(repo_digest: str, key_paths: Sequence[Path]) -> Verdict:
    """One check, blocking (keys, credentials and the registry conversation): call it in a
    thread."""
    from doca.cli import trust_registry as ops  # cryptography and the registry client

    try:
        reference = parse_reference(repo_digest)
        keys = ops.public_keys(key_paths)
        login = ops.credentials(reference)
        report = ops.run(ops.verify(reference, keys, login, insecure=False))
    except (ops.TrustError, ValueError) as error:
        return Verdict("check failed", str(error))
    if not report.found:
        return Verdict(UNSIGNED)
    if not report.verified:
        return Verdict(UNTRUSTED, report.details() if report.checked else report.reason())
    return Verdict(VERIFIED, ", ".join(v.key.name for v in report.verified))


class SignatureChecks:
    """The verdict of each image (by ID), checked in the background as images appear;
    listeners hear when one arrives."""

    def __init__(self, spawn: Spawn, key_paths: Callable[[], Sequence[Path]]) -> None:
        self._spawn = spawn
        self._key_paths = key_paths
        self._by_digest: dict[str, Verdict] = {}
        self._pending: set[str] = set()
        self._limit = asyncio.Semaphore(CONCURRENT_CHECKS)
        self._listeners: list[Callable[[], None]] = []
        self._keys: list[Path] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def verdicts(self, images: Iterable[dict[str, Any]]) -> dict[str, Verdict]:
        """Image ID → verdict for the images checked so far; starts checks for the others
        (only when keys are configured)."""
        found: dict[str, Verdict] = {}
        keys = list(self._key_paths())
        if keys != self._keys:  # other keys, other verdicts
            self._keys = keys
            self._by_digest.clear()
        for image in images:
            digests = repo_digests(image)
            for digest in digests:
                if digest in self._by_digest:
                    found[str(image.get("Id", ""))] = self._by_digest[digest]
                    break
            else:
                if keys and digests and digests[0] not in self._pending:
                    self._pending.add(digests[0])
                    self._spawn(self._check(digests[0], keys), f"verify {digests[0]}")
        return found

    async def _check(self, repo_digest: str, keys: list[Path]) -> None:
        try:
            async with self._limit:
                verdict = await asyncio.to_thread(_verify, repo_digest, keys)
        finally:
            self._pending.discard(repo_digest)
        self._by_digest[repo_digest] = verdict
        for listener in list(self._listeners):
            listener()


def trusted_keys(files: SettingsFiles) -> Callable[[], list[Path]]:
    """The trusted keys of the saved settings, read again only when the file changed."""
    seen: list[Any] = [None, []]

    def keys() -> list[Path]:
        try:
            stamp = files.settings.stat().st_mtime_ns
        except OSError:
            return []
        if stamp != seen[0]:
            try:
                seen[:] = [stamp, files.load().key_paths()]
            except SettingsError:
                seen[:] = [stamp, []]
        return list(seen[1])

    return keys
