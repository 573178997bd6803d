"""A volume's content to a tar file and a tar file into a volume, through a short-lived helper
container that mounts the volume, and the archive API (what `docker cp` uses).

The helper runs (a stopped container's archive shows its image's root, not its volumes) and
goes away when the copy ends, however it ends. Its image must have ``sleep``: busybox, the
image Docker's own volume backup tools use, unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from desktop_app.state.file_streams import file_size, read_chunks, write_chunks
from doca.client import EngineClient, EngineError, NotFound

HELPER_IMAGE = "busybox:latest"
HELPER_LABEL = "com.doca.desktop.helper"
MOUNT_POINT = "/volume"
# Long enough for any copy; the helper is removed as soon as the copy ends, and removes
# itself after this if the app could not (it was killed meanwhile).
HELPER_LIFETIME = 6 * 3600

Progress = Callable[[int, int], None]  # (bytes so far, total bytes or 0 when unknown)


class VolumeArchiveError(EngineError):
    """The copy could not start (status 0: the helper image is missing, a file is unreadable)."""


def helper_config(volume: str, image: str, read_only: bool) -> dict[str, object]:
    """The ``/containers/create`` body of the helper: the volume at ``MOUNT_POINT``, no network,
    removed by the engine when its ``sleep`` ends."""
    return {
        "Image": image,
        "Cmd": ["sleep", str(HELPER_LIFETIME)],
        "Labels": {HELPER_LABEL: "volume-archive"},
        "NetworkDisabled": True,
        "HostConfig": {
            "Mounts": [
                {"Type": "volume", "Source": volume, "Target": MOUNT_POINT, "ReadOnly": read_only}
            ],
            "NetworkMode": "none",
            "AutoRemove": True,
        },
    }


@contextlib.asynccontextmanager
async def helper_container(
    client: EngineClient, volume: str, image: str, read_only: bool
) -> AsyncIterator[str]:
    """A running helper with ``volume`` mounted; its ID until the block ends."""
    await client.volumes.inspect(volume)  # "no such volume" rather than a new, empty one
    try:
        await client.images.inspect(image)
    except NotFound:
        raise VolumeArchiveError(
            0, f"copying a volume needs the image {image} (with sleep in it): pull it first"
        ) from None
    # A name that says what the container in the Containers list is for.
    name = f"doca-volume-copy-{volume}-{secrets.token_hex(3)}"
    container = await client.containers.create(helper_config(volume, image, read_only), name)
    try:
        await client.containers.start(container)
        yield container
    finally:
        # Shielded: a cancelled copy must still take its helper away.
        with contextlib.suppress(EngineError):
            await asyncio.shield(client.containers.remove(container, force=True))


async def export_volume(
    client: EngineClient,
    volume: str,
    target: Path,
    image: str = HELPER_IMAGE,
    on_progress: Progress | None = None,
) -> int:
    """Write the volume's content as a tar (entries ``./…``) to ``target``; its size."""
    report = (lambda done: on_progress(done, 0)) if on_progress is not None else None
    async with helper_container(client, volume, image, read_only=True) as helper:
        chunks = client.containers.get_archive(helper, f"{MOUNT_POINT}/.")
        return await write_chunks(chunks, target, report)


async def import_volume(
    client: EngineClient,
    volume: str,
    source: Path,
    image: str = HELPER_IMAGE,
    on_progress: Progress | None = None,
) -> int:
    """Extract the tar at ``source`` into the volume (files of the same name are replaced,
    others kept); the bytes sent."""
    try:
        total = await file_size(source)
    except OSError as exc:
        raise VolumeArchiveError(0, f"cannot read {source}: {exc.strerror}") from exc
    report = (lambda done: on_progress(done, total)) if on_progress is not None else None
    async with helper_container(client, volume, image, read_only=False) as helper:
        await client.containers.put_archive(helper, MOUNT_POINT, read_chunks(source, report))
    return total
