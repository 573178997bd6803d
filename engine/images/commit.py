"""New images made from an existing one: a layer of changes on top (``docker commit``, a
build's RUN/COPY), or the same layers with another config (a build's ENV, CMD …).

Call under the image service's lock, from a thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from engine.faults import fault_point
from engine.images.load import host_arch
from engine.images.service import ImageService
from engine.images.store import ImageRecord
from engine.snapshots.difftar import write_layer
from engine.snapshots.store import chain_ids
from engine.snapshots.tarapply import apply_layer
from engine.timefmt import rfc3339_nano


def layer_from_upper(images: ImageService, upper: Path, skip: frozenset[str]) -> str:
    """Store the changes in an overlay ``upper`` as a layer blob; returns its diff ID."""
    with images.store.content.writer() as writer:
        write_layer(upper, writer, skip)  # type: ignore[arg-type]
        return writer.commit()


def new_image(
    images: ImageService,
    base: ImageRecord | None,
    container_config: dict[str, Any],
    history: dict[str, Any],
    *,
    diff_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The image ``base`` plus, if ``diff_id`` is given, that stored layer; returns its ID.

    ``history`` is this step's history entry without its ``created`` time.
    """
    store = images.store
    diff_ids = list(base.diff_ids if base else [])
    size = base.size if base else 0
    if diff_id is not None:
        parent_chain = base.chain_id if base else None
        diff_ids.append(diff_id)

        def apply(target: Path) -> int:
            with store.content.open(diff_id) as blob:
                return apply_layer(blob, target)

        size += store.snapshots.create(chain_ids(diff_ids)[-1], parent_chain, diff_id, apply).size
    now = rfc3339_nano()
    base_config = base.config if base else {"architecture": host_arch(), "os": "linux"}
    entry = {"created": now, **history}
    if diff_id is None:
        entry["empty_layer"] = True
    config: dict[str, Any] = {
        **{k: v for k, v in base_config.items() if k not in ("history", "rootfs", "config")},
        **(extra or {}),
        "created": now,
        "config": container_config,
        "history": [*(base_config.get("history") or []), entry],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    image_id = store.content.write_bytes(orjson.dumps(config))
    if image_id not in store.images:
        parent = base.id if base else ""
        fault_point("image.before-record")
        store.add(ImageRecord(image_id, diff_ids, size, time.time(), parent=parent, config=config))
    return image_id
