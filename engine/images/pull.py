"""``POST /images/create?fromImage=``: pull an image from a registry into the store.

Layers download up to three at a time into files named by digest (see ``layer_downloads``)
and are extracted in order, each checked against its diff ID. Layers go into the store under
the image service's lock, the image record and references only once every layer is there;
a failure collects what was stored, so no half image is ever visible.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from engine.config import EngineConfig
from engine.content.store import CHUNK, DigestMismatch
from engine.errors import (
    InvalidParameter,
    NotImplementedByEngine,
    SystemError_,
    Unauthorized,
)
from engine.faults import fault_point
from engine.images import transfer_progress as tp
from engine.images.distribution_map import DistributionMap
from engine.images.layer_codec import compression_of, open_uncompressed
from engine.images.layer_downloads import Downloads
from engine.images.load import parse_config
from engine.images.platform_query import check_platform, host_platform
from engine.images.reference import Reference, parse_normalized_named, parse_tag, validate_digest
from engine.images.registry_access import find_candidates, with_fallback
from engine.images.service import ImageService
from engine.images.store import ImageRecord
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.download import download_blob
from engine.registry.manifests import Descriptor, ImageIndex, ImageManifest, parse_manifest
from engine.registry.manifests import select_platform as select_entry
from engine.registry.platforms import Platform, normalize
from engine.snapshots.store import chain_ids
from engine.snapshots.tarapply import apply_layer
from engine.trust.enforce import verify_pull

T = TypeVar("T")
MAX_CONCURRENT_DOWNLOADS = 3  # dockerd's max-concurrent-downloads default
MAX_CONFIG_SIZE = 8 << 20
Emit = Callable[[tp.Message], None]


@dataclass(frozen=True)
class Layer:
    descriptor: Descriptor
    diff_id: str
    chain: str
    parent: str | None

    @property
    def short(self) -> str:
        return tp.short_digest(self.descriptor.digest)


class ImagePuller:
    """One pull; ``emit`` receives the progress messages (from any thread)."""

    def __init__(
        self,
        service: ImageService,
        config: EngineConfig,
        downloads: Downloads,
        known: DistributionMap,
        emit: Emit,
    ) -> None:
        self.service = service
        self.store = service.store
        self.config = config
        self.downloads = downloads
        self.known = known
        self.emit = emit
        self._tasks: dict[str, asyncio.Task[Path]] = {}
        self._gate = asyncio.Semaphore(MAX_CONCURRENT_DOWNLOADS)

    async def pull(
        self, ref: Reference, credentials: Credentials, platform: Platform | None = None
    ) -> str:
        """Pull ``ref`` (tagged or by digest); returns the image ID."""
        wanted = ref.digest or ref.tag or "latest"
        found = await find_candidates(ref.domain, self.config, pull=True)
        try:
            client, first = await with_fallback(
                found, credentials, lambda c: c.get_manifest(ref.path, wanted)
            )
        except Unauthorized as exc:
            # dockerd answers a registry's refusal with a 500, not a 401: a 401 would make
            # the CLI prompt for a Docker Hub login, whatever the registry.
            raise SystemError_(exc.message) from exc
        try:
            # Signatures are checked before anything is downloaded, so a refused image
            # leaves nothing behind.
            await verify_pull(
                self.config.trust, client, ref.domain, ref.path, first[1], ref.familiar()
            )
            return await self._pull(client, ref, wanted, first, platform)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            await client.close()

    async def _pull(
        self,
        client: RegistryClient,
        ref: Reference,
        wanted: str,
        first: tuple[str, str, bytes],
        platform: Platform | None,
    ) -> str:
        media_type, digest, raw = first
        manifest = await self._image_manifest(client, ref, media_type, raw, platform)
        self.emit(tp.pulling_from(wanted, ref.path))
        config_raw = await self._blob_bytes(client, ref.path, manifest.config)
        config = parse_config(config_raw)
        if platform is not None and media_type not in mediatypes.INDEXES:
            check_platform(ref.familiar(), config, platform)
        layers = _layers(manifest, config["rootfs"]["diff_ids"])
        await asyncio.to_thread(self.downloads.prepare)
        present = await asyncio.to_thread(self._present, layers)
        for layer in layers:
            state = "Already exists" if present[layer.chain] else "Pulling fs layer"
            self.emit(tp.status(state, layer.short))
        for layer in layers:
            if not present[layer.chain]:
                self._download(client, ref.path, layer.descriptor)
        image_id = manifest.config.digest
        pending = [layer for layer in layers if not present[layer.chain]]
        if pending:
            await asyncio.shield(self._tasks[pending[0].descriptor.digest])
        async with self.service.lock:
            pulled = {layer.chain for layer in pending}
            updated = await self._commit(
                client, ref, layers, pulled, image_id, config, config_raw, digest
            )
        for layer in pending:
            self.downloads.discard(layer.descriptor.digest)
        self.emit(tp.status(f"Digest: {digest}"))
        self.emit(tp.pull_status(ref.familiar(), updated))
        return image_id

    async def _image_manifest(
        self,
        client: RegistryClient,
        ref: Reference,
        media_type: str,
        raw: bytes,
        platform: Platform | None,
    ) -> ImageManifest:
        parsed = parse_manifest(raw, media_type)
        if isinstance(parsed, ImageIndex):
            target = platform or normalize(host_platform())
            entry = select_entry(parsed, target.os, target.architecture, target.variant)
            _, _, raw = await client.get_manifest(ref.path, entry.digest)
            parsed = parse_manifest(raw, entry.media_type)
            if isinstance(parsed, ImageIndex):
                raise InvalidParameter(f"manifest list of {ref.familiar()} nests another list")
        return parsed

    async def _blob_bytes(self, client: RegistryClient, repo: str, blob: Descriptor) -> bytes:
        if blob.size > MAX_CONFIG_SIZE:
            raise InvalidParameter(f"image config {blob.digest} too large: {blob.size} bytes")
        out = io.BytesIO()
        await download_blob(client, repo, blob.digest, out, blob.size)
        return out.getvalue()

    def _present(self, layers: list[Layer]) -> dict[str, bool]:
        """Layers already in the store, unpacked or at least as content."""
        content, snapshots = self.store.content, self.store.snapshots
        return {
            layer.chain: snapshots.exists(layer.chain) or content.exists(layer.diff_id)
            for layer in layers
        }

    # -- downloads ------------------------------------------------------------------------

    def _download(self, client: RegistryClient, repo: str, blob: Descriptor) -> asyncio.Task[Path]:
        task = self._tasks.get(blob.digest)
        if task is None:
            task = asyncio.create_task(self._fetch(client, repo, blob))
            self._tasks[blob.digest] = task
        return task

    async def _fetch(self, client: RegistryClient, repo: str, blob: Descriptor) -> Path:
        short = tp.short_digest(blob.digest)
        if self._gate.locked():
            self.emit(tp.status("Waiting", short))
        async with self._gate, self.downloads.claim(blob.digest) as path:
            report = tp.Throttle(self.emit, "Downloading", short, blob.size)
            await self.downloads.fetch(client, repo, blob.digest, blob.size, path, report)
            self.emit(tp.status("Verifying Checksum", short))
            self.emit(tp.status("Download complete", short))
            return path

    # -- commit (under the service lock) ---------------------------------------------------

    async def _commit(
        self,
        client: RegistryClient,
        ref: Reference,
        layers: list[Layer],
        pulled: set[str],
        image_id: str,
        config: dict[str, Any],
        config_raw: bytes,
        manifest_digest: str,
    ) -> bool:
        try:
            size = 0
            for layer in layers:
                blob = layer.descriptor
                path: Path | None = None
                if not await asyncio.to_thread(self._present_one, layer):
                    # Not stored (any more): it was removed since the pull looked.
                    path = await self._download(client, ref.path, blob)
                size += await _in_thread(self._extract, layer, path, client.endpoint.name, ref)
                if layer.chain in pulled:
                    self.emit(tp.status("Pull complete", layer.short))
            return await _in_thread(
                self._record, ref, image_id, config, config_raw, manifest_digest, layers, size
            )
        except BaseException:
            await _in_thread(self.service.collect_garbage)
            raise

    def _present_one(self, layer: Layer) -> bool:
        return self.store.snapshots.exists(layer.chain) or self.store.content.exists(layer.diff_id)

    def _extract(self, layer: Layer, path: Path | None, registry: str, ref: Reference) -> int:
        """Store the layer as content (from ``path`` when downloaded) and unpack it."""
        snapshots, content = self.store.snapshots, self.store.content
        if snapshots.exists(layer.chain):
            return snapshots.info(layer.chain).size
        if path is not None and not content.exists(layer.diff_id):
            blob = layer.descriptor
            report = tp.Throttle(self.emit, "Extracting", layer.short, blob.size)
            with path.open("rb") as raw:
                kind = compression_of(raw.read(4))
                raw.seek(0)
                counted = cast(BinaryIO, _CountingReader(raw, report))
                with open_uncompressed(counted) as stream, content.writer() as writer:
                    while chunk := stream.read(CHUNK):
                        writer.write(chunk)
                    try:
                        writer.commit(layer.diff_id)
                    except DigestMismatch as exc:
                        raise InvalidParameter(
                            f"layer {blob.digest} does not match its diff ID {layer.diff_id}: "
                            f"{exc.message}"
                        ) from exc
            report(blob.size, force=True)
            if kind == "gzip" and blob.media_type in mediatypes.LAYERS_GZIP:
                self.known.record(layer.diff_id, blob.digest, blob.size, registry, ref.path)

        def apply(target: Path) -> int:
            with content.open(layer.diff_id) as tar:
                return apply_layer(tar, target)

        return snapshots.create(layer.chain, layer.parent, layer.diff_id, apply).size

    def _record(
        self,
        ref: Reference,
        image_id: str,
        config: dict[str, Any],
        config_raw: bytes,
        manifest_digest: str,
        layers: list[Layer],
        size: int,
    ) -> bool:
        """Write the image and its references; True when ``ref`` now names another image."""
        self.store.content.write_bytes(config_raw, image_id)
        if image_id not in self.store.images:
            diff_ids = [layer.diff_id for layer in layers]
            fault_point("image.before-record")
            self.store.add(ImageRecord(image_id, diff_ids, size, time.time(), config=config))
            fault_point("image.before-tag")
        updated = self.store.refs.get(str(ref)) != image_id
        by_digest = Reference(ref.domain, ref.path, digest=manifest_digest)
        self.service.tag_locked(image_id, [ref] if ref.digest else [ref, by_digest])
        self.service.events.publish("image", "pull", ref.familiar(), {"name": ref.familiar_name})
        return updated


def pull_reference(image: str, tag: str = "") -> Reference:
    """What ``fromImage`` and ``tag`` name, as dockerd reads them: ``tag`` may be a digest."""
    ref = parse_normalized_named(image)
    if tag:
        if ":" in tag:
            ref = Reference(ref.domain, ref.path, digest=validate_digest(tag))
        else:
            ref = Reference(ref.domain, ref.path, tag=parse_tag(tag))
    if ref.digest:
        return Reference(ref.domain, ref.path, digest=ref.digest)
    if ref.tag is None:
        raise NotImplementedByEngine(
            f"pulling every tag of {ref.familiar_name} is not supported: name a tag"
        )
    return ref


def _layers(manifest: ImageManifest, diff_ids: list[str]) -> list[Layer]:
    if len(diff_ids) != len(manifest.layers):
        raise InvalidParameter(
            f"invalid manifest: {len(manifest.layers)} layers but the image config lists "
            f"{len(diff_ids)} diff IDs"
        )
    chains = chain_ids(diff_ids)
    layers = []
    for index, (blob, diff_id) in enumerate(zip(manifest.layers, diff_ids, strict=True)):
        if blob.media_type not in mediatypes.LAYERS:
            raise InvalidParameter(f"unsupported layer media type {blob.media_type[:200]!r}")
        parent = chains[index - 1] if index else None
        layers.append(Layer(blob, diff_id, chains[index], parent))
    return layers


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking store work in a thread; a cancelled pull still waits for it to end, so
    the clean-up after it never races a thread that is still writing the store."""
    task = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.gather(task, return_exceptions=True)
        raise


class _CountingReader(io.RawIOBase):
    """A raw stream over the download that reports how much of it was consumed."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        self._progress(self.consumed)
        return len(data)
