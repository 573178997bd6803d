"""Layer blobs being pulled: one file per digest, kept until the image that needs them is whole.

A file survives an interrupted pull (a client that went away, an engine killed mid-pull), so
the next pull of any image with that layer verifies it and continues from where it stopped
instead of downloading it again. Files live outside the data root's tmp dir because the
engine empties that one when it starts. One lock per digest keeps two pulls from writing
the same file at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from engine.errors import InvalidParameter
from engine.registry.client import RegistryClient
from engine.registry.download import download_blob

# A download nobody resumed for this long belongs to a pull that was abandoned.
STALE_AFTER = 7 * 24 * 3600
_READ = 1 << 20


class Downloads:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def path(self, digest: str) -> Path:
        return self.directory / digest.replace(":", "-")

    @asynccontextmanager
    async def claim(self, digest: str) -> AsyncIterator[Path]:
        """Exclusive use of the file for ``digest`` while the block runs."""
        lock = self._locks.setdefault(digest, asyncio.Lock())
        self._users[digest] = self._users.get(digest, 0) + 1
        try:
            async with lock:
                yield self.path(digest)
        finally:
            self._users[digest] -= 1
            if not self._users[digest]:
                del self._users[digest], self._locks[digest]

    def discard(self, digest: str) -> None:
        """Drop a file once its layer is stored (or its bytes proved wrong)."""
        self.path(digest).unlink(missing_ok=True)

    def prepare(self, now: float | None = None) -> None:
        """Create the directory and drop abandoned downloads; reads the disk."""
        self.directory.mkdir(parents=True, exist_ok=True)
        limit = (now if now is not None else time.time()) - STALE_AFTER
        for entry in self.directory.iterdir():
            try:
                if entry.stat().st_mtime < limit:
                    entry.unlink()
            except OSError:
                continue

    async def fetch(
        self,
        client: RegistryClient,
        repo: str,
        digest: str,
        size: int,
        path: Path,
        progress: Callable[[int], None],
    ) -> None:
        """Complete the file at ``path`` (held through ``claim``) and verify it.

        A whole file already there is only re-hashed; a partial one is resumed. Bytes that
        do not match the digest are deleted before the error goes up.
        """
        if await asyncio.to_thread(_is_whole, path, digest, size):
            return
        try:
            with path.open("a+b") as raw:
                out = _ProgressFile(raw, progress)
                await download_blob(client, repo, digest, cast(BinaryIO, out), size, resume=True)
        except InvalidParameter:
            path.unlink(missing_ok=True)
            raise


def _is_whole(path: Path, digest: str, size: int) -> bool:
    """Whether ``path`` already holds exactly the blob; a wrong one is removed."""
    try:
        if path.stat().st_size != size:
            return False
        sha = hashlib.sha256()
        with path.open("rb") as blob:
            while block := blob.read(_READ):
                sha.update(block)
    except FileNotFoundError:
        return False
    if "sha256:" + sha.hexdigest() == digest:
        os.utime(path)  # still wanted: not stale
        return True
    path.unlink(missing_ok=True)
    return False


class _ProgressFile:
    """The download file, counting what is written to report ``Downloading``."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress
        self._position = os.fstat(raw.fileno()).st_size

    def write(self, data: bytes) -> int:
        written = self._raw.write(data)
        self._position += written
        self._progress(self._position)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
