"""Blob upload sessions: a content-store writer per upload, addressed by a UUID.

The data goes to the store's ingest directory and becomes a blob only when the final PUT's
digest matches, so a crash or an abandoned upload never leaves a visible blob; the store's
ingest directory is emptied when the server starts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from engine.content.store import BlobWriter, ContentStore
from engine.registry_server.errors import BLOB_UPLOAD_UNKNOWN, RegistryError

# Uploads idle for longer are dropped (distribution purges after a week; pushes retry sooner).
MAX_IDLE = 24 * 3600.0
WRITE_BATCH = 1 << 20


@dataclass
class Upload:
    id: str
    name: str
    writer: BlobWriter
    touched: float = field(default_factory=time.monotonic)
    # One request at a time may append to or finish an upload.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    @property
    def size(self) -> int:
        return self.writer.size

    def range_header(self) -> str:
        """Distribution's ``Range`` value: ``0-<last byte>``, and ``0-0`` when empty."""
        return f"0-{max(self.size - 1, 0)}"

    async def append(self, chunks: AsyncIterable[bytes]) -> None:
        """Write a request body to the upload, in batches off the event loop."""
        self.touched = time.monotonic()
        batch = bytearray()
        async for chunk in chunks:
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await asyncio.to_thread(self.writer.write, bytes(batch))
                batch.clear()
        if batch:
            await asyncio.to_thread(self.writer.write, bytes(batch))
        self.touched = time.monotonic()


class Uploads:
    def __init__(self, store: ContentStore) -> None:
        self._store = store
        self._active: dict[str, Upload] = {}

    async def start(self, name: str) -> Upload:
        await self.expire()
        writer = await asyncio.to_thread(self._store.writer)
        upload = Upload(str(uuid.uuid4()), name, writer)
        self._active[upload.id] = upload
        return upload

    def get(self, name: str, upload_id: str) -> Upload:
        """The upload, which must belong to repository ``name``; else BLOB_UPLOAD_UNKNOWN."""
        upload = self._active.get(upload_id)
        if upload is None or upload.name != name or upload.closed:
            raise RegistryError(BLOB_UPLOAD_UNKNOWN, {"uuid": upload_id})
        return upload

    async def commit(self, upload: Upload, digest: str) -> None:
        """Publish the upload as blob ``digest``; it ends either way (DigestMismatch aborts)."""
        self._close(upload)
        try:
            await asyncio.to_thread(upload.writer.commit, digest)
        except BaseException:
            await asyncio.to_thread(upload.writer.abort)
            raise

    async def cancel(self, upload: Upload) -> None:
        self._close(upload)
        await asyncio.to_thread(upload.writer.abort)

    def _close(self, upload: Upload) -> None:
        upload.closed = True
        self._active.pop(upload.id, None)

    async def expire(self, max_idle: float = MAX_IDLE) -> None:
        """Drop uploads nobody has touched for ``max_idle`` seconds."""
        now = time.monotonic()
        for upload in list(self._active.values()):
            if now - upload.touched > max_idle and not upload.lock.locked():
                await self.cancel(upload)

    async def close_all(self) -> None:
        for upload in list(self._active.values()):
            await self.cancel(upload)

    def __len__(self) -> int:
        return len(self._active)
