"""Content-addressed blob store: ``blobs/sha256/<hex>``, written through ``ingest/`` and verified.

A blob becomes visible only by an atomic rename after its digest was checked and its data
fsynced, so a crash leaves either no blob or a whole one. Leftovers in ``ingest/`` are garbage
and are removed when the engine starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import InvalidParameter, NotFound
from engine.meta.atomic import fsync_dir

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
CHUNK = 1 << 20


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise InvalidParameter(f"invalid digest {digest!r}")
    return digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class DigestMismatch(InvalidParameter):
    pass


class BlobWriter:
    """Write a blob incrementally; ``commit`` verifies and publishes it."""

    def __init__(self, store: ContentStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.ingest, prefix="ingest-")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, expected: str | None = None) -> str:
        """Publish the blob under its digest; raise DigestMismatch if it is not ``expected``."""
        digest = self.digest
        if expected is not None and expected != digest:
            self.abort()
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {digest}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        final = self._store.path(digest)
        if final.exists():
            self.path.unlink()
        else:
            os.chmod(self.path, 0o644)
            os.replace(self.path, final)
            fsync_dir(final.parent)
        self._done = True
        return digest

    def abort(self) -> None:
        if not self._done:
            self._file.close()
            self.path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


class ContentStore:
    def __init__(self, blobs: Path, ingest: Path) -> None:
        self.blobs = blobs
        self.ingest = ingest

    def path(self, digest: str) -> Path:
        return self.blobs / check_digest(digest).removeprefix("sha256:")

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest}: not found") from exc

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest}: not found") from exc

    def open(self, digest: str) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest}: not found") from exc

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def write_bytes(self, data: bytes, expected: str | None = None) -> str:
        with self.writer() as writer:
            writer.write(data)
            return writer.commit(expected)

    def copy_from(self, stream: BinaryIO, expected: str | None = None) -> tuple[str, int]:
        """Store everything ``stream`` yields; return its digest and size."""
        with self.writer() as writer:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
            return writer.commit(expected), writer.size

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        for entry in self.blobs.iterdir():
            if _DIGEST.match("sha256:" + entry.name):
                yield "sha256:" + entry.name

    def clean_ingest(self) -> int:
        """Remove half-written blobs; return how many there were."""
        count = 0
        for entry in self.ingest.iterdir():
            entry.unlink(missing_ok=True)
            count += 1
        return count
