"""``POST /images/{name}/push``: upload an image's layers, config and manifest to a registry.

Layers are stored uncompressed, so each is gzip-compressed for the registry, always to the
same bytes (``layer_codec``). The distribution map remembers the compressed digest and the
repositories that have it, so a later push asks the registry (``HEAD``) or mounts the blob
from another repository before compressing anything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from engine.config import EngineConfig
from engine.content.store import CHUNK
from engine.errors import NotFound
from engine.images import transfer_progress as tp
from engine.images.distribution_map import DistributionMap
from engine.images.layer_codec import gzip_deterministic
from engine.images.reference import Reference, parse_reference
from engine.images.registry_access import find_candidates, with_fallback
from engine.images.service import ImageService
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient

MAX_CONCURRENT_UPLOADS = 5  # dockerd's max-concurrent-uploads default
Blob = tuple[str, int]  # (digest, size)


def schema2_manifest(config: Blob, layers: list[Blob]) -> bytes:
    """A Docker schema2 manifest, indented as dockerd marshals it (so digests compare)."""
    document = {
        "schemaVersion": 2,
        "mediaType": mediatypes.DOCKER_MANIFEST,
        "config": {"mediaType": mediatypes.DOCKER_CONFIG, "size": config[1], "digest": config[0]},
        "layers": [
            {"mediaType": mediatypes.DOCKER_LAYER, "size": size, "digest": digest}
            for digest, size in layers
        ],
    }
    return json.dumps(document, indent=3).encode()


def push_targets(refs: dict[str, str], name: Reference, tag: str | None) -> list[Reference]:
    """The tags a push sends: the one asked for, or every tag of the repository (sorted)."""
    tagged = sorted(
        (parse_reference(key, default_tag=None) for key in refs if "@" not in key),
        key=str,
    )
    mine = [ref for ref in tagged if ref.name == name.name and ref.tag]
    if not mine:
        raise NotFound(f"An image does not exist locally with the tag: {name.familiar_name}")
    if tag is None:
        return mine
    wanted = [ref for ref in mine if ref.tag == tag]
    if not wanted:
        raise NotFound(f"tag does not exist: {name.with_tag(tag).familiar()}")
    return wanted


class ImagePusher:
    """One push; ``emit`` receives the progress messages (from any thread)."""

    def __init__(
        self,
        service: ImageService,
        config: EngineConfig,
        known: DistributionMap,
        scratch: Path,
        emit: Callable[[tp.Message], None],
    ) -> None:
        self.service = service
        self.store = service.store
        self.config = config
        self.known = known
        self.scratch = scratch
        self.emit = emit
        self._gate = asyncio.Semaphore(MAX_CONCURRENT_UPLOADS)

    async def push(self, name: Reference, tag: str | None, credentials: Credentials) -> None:
        """Push ``name:tag``, or every tag of ``name`` when ``tag`` is None."""
        self.emit(tp.status(f"The push refers to repository [{name.name}]"))
        targets = push_targets(self.store.refs, name, tag)
        first_image = self.store.refs[str(targets[0])]
        found = await find_candidates(name.domain, self.config, pull=False)
        client, _ = await with_fallback(
            found, credentials, lambda c: c.blob_exists(name.path, first_image)
        )
        async with client:
            for target in targets:
                image_id = self.store.refs.get(str(target))
                if image_id is None or image_id not in self.store.images:
                    raise NotFound(f"tag does not exist: {target.familiar()}")
                await self._push_tag(client, target, image_id)

    async def _push_tag(self, client: RegistryClient, ref: Reference, image_id: str) -> None:
        diff_ids = list(self.store.images[image_id].diff_ids)
        unique = list(dict.fromkeys(diff_ids))
        for diff_id in unique:
            self.emit(tp.status("Preparing", tp.short_digest(diff_id)))
        tasks = [asyncio.ensure_future(self._push_layer(client, ref, d)) for d in unique]
        try:
            blobs = dict(zip(unique, await asyncio.gather(*tasks), strict=True))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        config_raw = await asyncio.to_thread(self.store.content.read, image_id)
        if await client.blob_exists(ref.path, image_id) is None:
            await client.upload_blob(ref.path, image_id, len(config_raw), _once(config_raw))
        manifest = schema2_manifest((image_id, len(config_raw)), [blobs[d] for d in diff_ids])
        assert ref.tag is not None  # push targets are tagged
        digest = await client.put_manifest(ref.path, ref.tag, mediatypes.DOCKER_MANIFEST, manifest)
        for message in tp.push_result(ref.tag, digest, len(manifest)):
            self.emit(message)
        async with self.service.lock:
            if image_id in self.store.images:
                by_digest = Reference(ref.domain, ref.path, digest=digest)
                await asyncio.to_thread(self.service.tag_locked, image_id, [by_digest])
        self.service.events.publish("image", "push", ref.familiar(), {"name": ref.familiar_name})

    async def _push_layer(self, client: RegistryClient, ref: Reference, diff_id: str) -> Blob:
        short = tp.short_digest(diff_id)
        if self._gate.locked():
            self.emit(tp.status("Waiting", short))
        async with self._gate:
            for digest, size in self.known.digests_for(diff_id):
                if await client.blob_exists(ref.path, digest) is not None:
                    return await self._done(ref, diff_id, (digest, size), "Layer already exists")
                for source in self.known.repos_for(ref.domain, digest):
                    if source != ref.path and await client.mount_blob(ref.path, digest, source):
                        return await self._done(
                            ref, diff_id, (digest, size), f"Mounted from {source}"
                        )
            path, digest, size = await asyncio.to_thread(self._compress, diff_id)
            try:
                if await client.blob_exists(ref.path, digest) is not None:
                    return await self._done(ref, diff_id, (digest, size), "Layer already exists")
                report = tp.Throttle(self.emit, "Pushing", short, size)
                await client.upload_blob(ref.path, digest, size, _read_file(path, report))
                report(size, force=True)
            finally:
                path.unlink(missing_ok=True)
            return await self._done(ref, diff_id, (digest, size), "Pushed")

    async def _done(self, ref: Reference, diff_id: str, blob: Blob, state: str) -> Blob:
        self.emit(tp.status(state, tp.short_digest(diff_id)))
        await asyncio.to_thread(self.known.record, diff_id, blob[0], blob[1], ref.domain, ref.path)
        return blob

    def _compress(self, diff_id: str) -> tuple[Path, str, int]:
        """The layer as deterministic gzip in a scratch file: (path, digest, size)."""
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=f"push-{tp.short_digest(diff_id)}-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.store.content.open(diff_id) as source:
                digest, size = gzip_deterministic(source, out)
            return path, digest, size
        except BaseException:
            path.unlink(missing_ok=True)
            raise


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read_file(path: Path, progress: Callable[[int], None]) -> AsyncIterator[bytes]:
    sent = 0
    with contextlib.closing(await asyncio.to_thread(path.open, "rb")) as blob:
        while chunk := await asyncio.to_thread(blob.read, CHUNK):
            sent += len(chunk)
            progress(sent)
            yield chunk
