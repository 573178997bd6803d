"""One blob upload session: ``POST`` opens it, ``PATCH`` appends, ``PUT ?digest=`` commits.

The bytes are hashed and counted on their way out; a wrong digest or size cancels the
session with ``DELETE`` instead of committing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

from engine.errors import EngineError, InvalidParameter, SystemError_
from engine.registry.digests import DigestVerifier
from engine.registry.names import push_scope
from engine.registry.transport import Transport, read_error


def upload_location(response: aiohttp.ClientResponse, base: URL, registry: URL) -> URL:
    """The (possibly relative) ``Location`` of an upload, kept on the registry's own host."""
    location = response.headers.get("Location", "")
    if not location:
        raise SystemError_("registry did not return an upload location")
    target = base.join(URL(location, encoded=True))
    if target.origin() != registry.origin():
        raise SystemError_(f"registry upload location on another host: {target.origin()}")
    return target


class BlobUpload:
    def __init__(self, transport: Transport, repo: str, location: URL) -> None:
        self._http = transport
        self._scopes = [push_scope(repo)]
        self.location = location
        self.offset = 0

    async def patch(self, block: bytes) -> None:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{self.offset}-{self.offset + len(block) - 1}",
        }
        async with self._http.request(
            "PATCH", self.location, self._scopes, headers, block
        ) as response:
            if response.status != 202:
                raise await read_error(response)
            # Each answer names where the next part goes (it may carry upload state).
            self.location = upload_location(response, self.location, self._http.url("/"))
        self.offset += len(block)

    async def commit(self, digest: str, body: bytes = b"") -> None:
        url = self.location.update_query(digest=digest)
        headers = {"Content-Type": "application/octet-stream"}
        async with self._http.request("PUT", url, self._scopes, headers, body) as response:
            if response.status not in (201, 204):
                raise await read_error(response)

    async def cancel(self) -> None:
        try:
            async with self._http.request("DELETE", self.location, self._scopes):
                pass
        except EngineError:
            pass  # best effort: registries expire abandoned uploads on their own


def check_complete(verifier: DigestVerifier, size: int) -> None:
    if verifier.size != size:
        raise InvalidParameter(f"blob size mismatch: expected {size}, got {verifier.size}")
    verifier.verify()


async def counted(
    chunks: AsyncIterator[bytes], verifier: DigestVerifier, size: int
) -> AsyncIterator[bytes]:
    """The stream unchanged, hashed on the way; stops as soon as it outgrows ``size``."""
    async for chunk in chunks:
        verifier.update(chunk)
        if verifier.size > size:
            raise InvalidParameter(f"blob size mismatch: more than the declared {size} bytes")
        yield chunk


async def blocks(chunks: AsyncIterator[bytes], block_size: int) -> AsyncIterator[bytes]:
    """Regroups a stream into blocks of ``block_size`` bytes (the last may be shorter)."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while len(pending) >= block_size:
            yield bytes(pending[:block_size])
            del pending[:block_size]
    if pending:
        yield bytes(pending)
