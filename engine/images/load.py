"""``POST /images/load``: commit the images of a ``docker save`` archive into the store.

Each layer is stored as a blob (digest-checked against the config's diff ID) and unpacked into
a snapshot; the image record is written only after all of that, and tags last, so a crash at
any point leaves no half image.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from engine.content.store import CHUNK, DigestMismatch, sha256_digest
from engine.errors import InvalidParameter
from engine.faults import fault_point
from engine.images.archive import (
    ArchivedImage,
    ArchiveError,
    ImageArchive,
    decompressed,
    open_archive,
)
from engine.images.reference import parse_reference
from engine.images.service import ImageService
from engine.images.store import ImageRecord
from engine.snapshots.store import chain_ids
from engine.snapshots.tarapply import apply_layer

Progress = Callable[[dict[str, Any]], None]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


def host_arch() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def parse_config(raw: bytes) -> dict[str, Any]:
    """An image config, checked for what the store relies on."""
    try:
        config = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ArchiveError(f"invalid image config: {exc}") from exc
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ArchiveError("invalid image config: rootfs.diff_ids missing")
    for diff_id in diff_ids:
        if not diff_id.startswith("sha256:") or len(diff_id) != 71:
            raise ArchiveError(f"invalid image config: bad diff ID {diff_id!r}")
    return config


class ImageLoader:
    """Commits archives into an ImageService; call under ``service.lock`` from a thread."""

    def __init__(self, service: ImageService, progress: Progress) -> None:
        self.service = service
        self.store = service.store
        self.progress = progress

    def load(self, path: Path) -> list[str]:
        """Load every image in the archive at ``path``; return the IDs loaded."""
        try:
            with path.open("rb") as fileobj, open_archive(fileobj) as archive:
                images = archive.images(host_arch())
                if not images:
                    raise ArchiveError("invalid archive: it holds no image")
                return [self._load_one(archive, image) for image in images]
        except BaseException:
            # Layers stored before the failure belong to no image; do not keep them.
            self.service.collect_garbage()
            raise

    def _load_one(self, archive: ImageArchive, image: ArchivedImage) -> str:
        image_id = sha256_digest(image.config)
        config = parse_config(image.config)
        diff_ids: list[str] = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(image.layers):
            raise ArchiveError(
                f"invalid manifest, layers length mismatch: expected {len(diff_ids)}, "
                f"got {len(image.layers)}"
            )
        refs = [parse_reference(tag) for tag in image.repo_tags]
        chains = chain_ids(diff_ids)
        size = 0
        for index, (layer, diff_id) in enumerate(zip(image.layers, diff_ids, strict=True)):
            parent = chains[index - 1] if index else None
            size += self._load_layer(archive, layer, diff_id, chains[index], parent)
        self.store.content.write_bytes(image.config, image_id)
        if image_id not in self.store.images:
            record = ImageRecord(image_id, diff_ids, size, time.time(), config=config)
            fault_point("image.before-record")
            self.store.add(record)
            fault_point("image.before-tag")
        for old in self.service.tag_locked(image_id, refs):
            tags = ", ".join(r.familiar() for r in refs)
            self.progress(
                {
                    "stream": f"The image {tags} already exists, renaming the old one "
                    f"with ID {old} to empty string\n"
                }
            )
        for ref in refs:
            self.progress({"stream": f"Loaded image: {ref.familiar()}\n"})
        if not refs:
            self.progress({"stream": f"Loaded image ID: {image_id}\n"})
        name = refs[0].familiar() if refs else image_id
        self.service.events.publish("image", "load", image_id, {"name": name})
        return image_id

    def _load_layer(
        self, archive: ImageArchive, layer: str, diff_id: str, chain: str, parent: str | None
    ) -> int:
        snapshots = self.store.snapshots
        content = self.store.content
        short = diff_id.removeprefix("sha256:")[:12]
        if not content.exists(diff_id):
            with (
                archive.open(layer) as raw,
                decompressed(raw) as stream,
                content.writer() as writer,
            ):
                while chunk := stream.read(CHUNK):
                    writer.write(chunk)
                    self._report(short, writer.size)
                try:
                    writer.commit(diff_id)
                except DigestMismatch as exc:
                    raise InvalidParameter(
                        f"invalid archive: layer {layer} does not match its diff ID {diff_id}"
                    ) from exc
        total = content.size(diff_id)
        info = snapshots.create(chain, parent, diff_id, lambda d: self._apply(diff_id, d))
        self.progress(
            {
                "status": "Loading layer",
                "progressDetail": {"current": total, "total": total},
                "id": short,
            }
        )
        return info.size

    def _apply(self, diff_id: str, target: Path) -> int:
        with self.store.content.open(diff_id) as blob:
            return apply_layer(blob, target)

    _last_report = 0.0

    def _report(self, short: str, current: int) -> None:
        now = time.monotonic()
        if now - self._last_report > 0.2:
            self._last_report = now
            self.progress(
                {"status": "Loading layer", "progressDetail": {"current": current}, "id": short}
            )
