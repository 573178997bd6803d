"""Reading an image's signatures from its registry.

The registry is reached through ``SignatureSource``, the two calls of the engine's registry
client this needs (``engine.registry.client.RegistryClient`` is one), so this package does
not depend on how endpoints, credentials and fallbacks are chosen. The registry is an
untrusted peer: manifests and payloads are bounded and every payload is checked against its
digest before anything reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncGenerator
from typing import Protocol

from engine.errors import NotFound
from engine.trust.payload import MAX_PAYLOAD_SIZE, PayloadError, signature_tag
from engine.trust.signature_image import SignatureLayer, signature_layers


class SignatureSource(Protocol):
    async def get_manifest(self, repo: str, ref: str) -> tuple[str, str, bytes]:
        """(media type, digest, bytes) of a manifest; NotFound when the registry has none."""
        ...

    def fetch_blob(self, repo: str, digest: str, offset: int = 0) -> AsyncGenerator[bytes, None]:
        """The blob's bytes, unverified."""
        ...


async def read_signature_layers(
    source: SignatureSource, repo: str, digest: str
) -> list[SignatureLayer] | None:
    """The signatures stored for ``repo@digest``; None when there is no signature image.

    SignatureImageError when the ``.sig`` tag holds something else.
    """
    try:
        _, _, raw = await source.get_manifest(repo, signature_tag(digest))
    except NotFound:
        return None
    return signature_layers(raw)


async def read_payload(source: SignatureSource, repo: str, layer: SignatureLayer) -> bytes:
    """The payload a signature layer points to, verified against the layer's digest."""
    if layer.size > MAX_PAYLOAD_SIZE:
        raise PayloadError(f"payload of {layer.size} bytes is too large")
    hasher = hashlib.sha256()
    chunks: list[bytes] = []
    received = 0
    async with contextlib.aclosing(source.fetch_blob(repo, layer.digest)) as stream:
        async for chunk in stream:
            received += len(chunk)
            if received > layer.size:
                raise PayloadError(f"payload {layer.digest} is larger than its {layer.size} bytes")
            hasher.update(chunk)
            chunks.append(chunk)
    if received != layer.size or "sha256:" + hasher.hexdigest() != layer.digest:
        raise PayloadError(f"payload {layer.digest} does not match its digest")
    return b"".join(chunks)
