"""``POST /images/create?fromSrc=-``: an image of one layer from a root filesystem tar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from engine.content.store import CHUNK
from engine.images.archive import decompressed
from engine.images.changes import apply_changes
from engine.images.load import host_arch
from engine.images.reference import Reference
from engine.images.service import ImageService
from engine.images.store import ImageRecord
from engine.snapshots.tarapply import apply_layer
from engine.timefmt import rfc3339_nano

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def import_rootfs(
    service: ImageService,
    path: Path,
    ref: Reference | None,
    message: str,
    changes: list[str],
) -> str:
    """Import the tar at ``path``; call under ``service.lock`` from a thread. Returns the ID."""
    container_config = apply_changes({"Env": [DEFAULT_PATH]}, changes)
    store = service.store
    with path.open("rb") as raw, decompressed(raw) as stream, store.content.writer() as writer:
        while chunk := stream.read(CHUNK):
            writer.write(chunk)
        diff_id = writer.commit()
    now = rfc3339_nano()
    comment = message or "Imported from -"
    config: dict[str, Any] = {
        "architecture": host_arch(),
        "os": "linux",
        "created": now,
        "comment": comment,
        "config": container_config,
        "history": [{"created": now, "comment": comment}],
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    raw_config = orjson.dumps(config)

    def apply(target: Path) -> int:
        with store.content.open(diff_id) as blob:
            return apply_layer(blob, target)

    try:
        info = store.snapshots.create(diff_id, None, diff_id, apply)
    except BaseException:
        service.collect_garbage()
        raise
    image_id = store.content.write_bytes(raw_config)
    if image_id not in store.images:
        store.add(ImageRecord(image_id, [diff_id], info.size, time.time(), config=config))
    if ref is not None:
        service.tag_locked(image_id, [ref])
    name = ref.familiar() if ref else image_id
    service.events.publish("image", "import", image_id, {"name": name})
    return image_id
