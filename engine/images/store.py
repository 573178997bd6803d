"""Image records and the references (tags and digests) that name them.

An image is its config blob in the content store (the image ID is that blob's digest) plus a
record ``images/<hex>.json`` written last, after its layers are unpacked: an image whose record
exists is whole. References live in one file, ``images/references.json``, replaced atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.content.store import ContentStore
from engine.errors import NotFound
from engine.meta.atomic import read_json, remove_stale_temps, write_json
from engine.snapshots.store import SnapshotStore, chain_ids

log = logging.getLogger(__name__)


@dataclass
class ImageRecord:
    id: str
    diff_ids: list[str]
    size: int
    created_at: float
    last_tag_time: str | None = None
    # Parent image for images committed from a container or built; "" for loaded ones.
    parent: str = ""
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def chain_id(self) -> str | None:
        chains = chain_ids(self.diff_ids)
        return chains[-1] if chains else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "diff_ids": self.diff_ids,
            "size": self.size,
            "created_at": self.created_at,
            "last_tag_time": self.last_tag_time,
            "parent": self.parent,
        }


class ImageStore:
    """In-memory view of the records and references on disk; the service serialises writes."""

    def __init__(
        self, directory: Path, references: Path, content: ContentStore, snapshots: SnapshotStore
    ) -> None:
        self.directory = directory
        self.references_file = references
        self.content = content
        self.snapshots = snapshots
        self.images: dict[str, ImageRecord] = {}
        self.refs: dict[str, str] = {}

    def _record_path(self, image_id: str) -> Path:
        return self.directory / (image_id.removeprefix("sha256:") + ".json")

    def load(self) -> None:
        """Read everything back and drop what a crash left inconsistent."""
        remove_stale_temps(self.directory)
        for path in self.directory.glob("*.json"):
            if path == self.references_file:
                continue
            try:
                raw = read_json(path)
                record = ImageRecord(**raw)
                record.config = orjson.loads(self.content.read(record.id))
            except (OSError, ValueError, TypeError, NotFound) as exc:
                log.warning("dropping image record %s: %s", path.name, exc)
                path.unlink(missing_ok=True)
                continue
            chain = record.chain_id
            if chain is not None and not self.snapshots.exists(chain):
                log.warning("dropping image %s: its layers are missing", record.id)
                path.unlink(missing_ok=True)
                continue
            self.images[record.id] = record
        try:
            refs = read_json(self.references_file) if self.references_file.exists() else {}
        except ValueError:
            log.error("references file is corrupt; images are kept but untagged")
            refs = {}
        self.refs = {ref: image_id for ref, image_id in refs.items() if image_id in self.images}
        if len(self.refs) != len(refs):
            self.save_refs()

    def save_refs(self) -> None:
        write_json(self.references_file, self.refs)

    def add(self, record: ImageRecord) -> None:
        write_json(self._record_path(record.id), record.to_json())
        self.images[record.id] = record

    def update(self, record: ImageRecord) -> None:
        self.add(record)

    def remove(self, image_id: str) -> None:
        self._record_path(image_id).unlink(missing_ok=True)
        self.images.pop(image_id, None)

    def refs_of(self, image_id: str) -> list[str]:
        return sorted(ref for ref, target in self.refs.items() if target == image_id)

    def in_use_snapshots(self) -> set[str]:
        used: set[str] = set()
        for record in self.images.values():
            used.update(chain_ids(record.diff_ids))
        return used

    def in_use_blobs(self) -> set[str]:
        used: set[str] = set()
        for record in self.images.values():
            used.add(record.id)
            used.update(record.diff_ids)
        return used
