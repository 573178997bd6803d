"""Downloading a blob into a file while hashing it, so a wrong byte never goes unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import BinaryIO

from engine.errors import InvalidParameter
from engine.registry.client import RegistryClient
from engine.registry.digests import DigestVerifier

# Writes are batched so the thread hop per write stays cheap next to the network.
_WRITE_BATCH = 1024 * 1024


async def download_blob(
    client: RegistryClient,
    repo: str,
    digest: str,
    out: BinaryIO,
    size: int | None = None,
    resume: bool = False,
) -> int:
    """Stream blob ``digest`` into ``out`` and verify it; returns the blob's size.

    With ``resume`` the bytes already in ``out`` are hashed and kept, and only the rest is
    fetched. Raises InvalidParameter ``digest mismatch`` (or a size error) when the registry
    sends other bytes than the digest names; ``out`` then holds them, for the caller to discard.
    """
    verifier = DigestVerifier(digest)
    offset = await asyncio.to_thread(_rehash, out, verifier) if resume else 0
    if not resume:
        await asyncio.to_thread(_truncate, out)
    pending: list[bytes] = []
    pending_size = 0
    async with contextlib.aclosing(client.fetch_blob(repo, digest, offset)) as chunks:
        async for chunk in chunks:
            verifier.update(chunk)
            if size is not None and verifier.size > size:
                raise InvalidParameter(f"blob {digest} is larger than its declared {size} bytes")
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= _WRITE_BATCH:
                await asyncio.to_thread(out.write, b"".join(pending))
                pending, pending_size = [], 0
    if pending:
        await asyncio.to_thread(out.write, b"".join(pending))
    await asyncio.to_thread(out.flush)
    if size is not None and verifier.size != size:
        raise InvalidParameter(
            f"blob {digest} is {verifier.size} bytes, its descriptor says {size}"
        )
    verifier.verify()
    return verifier.size


def _rehash(out: BinaryIO, verifier: DigestVerifier) -> int:
    out.seek(0)
    while block := out.read(_WRITE_BATCH):
        verifier.update(block)
    return verifier.size


def _truncate(out: BinaryIO) -> None:
    out.seek(0)
    out.truncate()
