"""Engine API calls the shared client does not make: ``ImageSave`` and a ``VolumeCreate`` with
a driver and its options. Each opens its own connection through the client's ``Transport``, so
errors are translated exactly as the client's own calls translate them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import ClientPayloadError

from doca.client import EngineClient, StreamError
from doca.client.transport import Transport


async def save_images(client: EngineClient, names: Sequence[str]) -> AsyncIterator[bytes]:
    """The `docker save` tar of ``names`` (tags or IDs), in chunks as they arrive; an archive
    the engine breaks off raises StreamError."""
    transport = Transport(client.host)
    try:
        params = {"names": list(names)}
        async with transport.request("GET", "/images/get", params=params) as response:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            except ClientPayloadError as exc:
                raise StreamError(f"the engine broke off the archive: {exc}") from exc
    finally:
        await transport.close()


async def create_volume(client: EngineClient, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /volumes/create`` with a whole VolumeCreateOptions body (``Name``, ``Driver``,
    ``DriverOpts``, ``Labels``); the new volume."""
    if not body.get("DriverOpts") and body.get("Driver", "local") == "local":
        # The client's own call: nothing in the body needs more than it sends.
        return await client.volumes.create(body.get("Name") or None, body.get("Labels") or {})
    transport = Transport(client.host)
    try:
        return dict(await transport.call("POST", "/volumes/create", json=body))
    finally:
        await transport.close()
