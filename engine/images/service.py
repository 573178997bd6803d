"""Image operations behind the Engine API: look-up, list, inspect, history, tag, delete, prune.

Loading, saving and importing live in their own modules and use this service to commit.
Every mutation takes ``self.lock``; blocking disk work runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import Conflict, InvalidParameter, NotFound
from engine.events.bus import EventBus
from engine.filters import Filters, parse_timestamp
from engine.images.reference import Reference, parse_normalized_named, parse_reference
from engine.images.store import ImageRecord, ImageStore
from engine.runtime.mounts import storage_driver
from engine.snapshots.store import chain_ids
from engine.timefmt import parse_rfc3339, rfc3339_nano

log = logging.getLogger(__name__)

_HEX_PREFIX = re.compile(r"^(sha256:)?[0-9a-f]{1,64}$")
IMAGE_LIST_FILTERS = ("before", "dangling", "label", "reference", "since", "until")
PRUNE_FILTERS = ("dangling", "label", "label!", "until")


@dataclass(frozen=True)
class ContainerUse:
    container_id: str
    running: bool


# Tells which containers use an image; the containers service provides it once it exists.
UsageLookup = Callable[[str], list[ContainerUse]]


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def familiar(ref: str) -> str:
    return parse_reference(ref, default_tag=None).familiar()


class ImageService:
    def __init__(self, store: ImageStore, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.lock = asyncio.Lock()
        self.usage: UsageLookup = lambda image_id: []

    # -- look-up ---------------------------------------------------------------------------

    def resolve(self, name: str) -> ImageRecord:
        """Find an image by reference, full ID or unambiguous ID prefix, as dockerd does."""
        return self.lookup(name)[0]

    def lookup(self, name: str) -> tuple[ImageRecord, str | None]:
        """The image ``name`` stands for, and the reference it matched (None for an ID)."""
        ref: Reference | None = None
        if not name.startswith("sha256:"):
            try:
                ref = parse_normalized_named(name)
            except InvalidParameter:
                ref = None
        if ref is not None:
            key = str(ref) if (ref.tag or ref.digest) else str(ref.with_tag("latest"))
            image_id = self.store.refs.get(key)
            if image_id is not None:
                return self.store.images[image_id], key
        if _HEX_PREFIX.match(name) and (ref is None or not ref.tag):
            hex_prefix = name.removeprefix("sha256:")
            found = [i for i in self.store.images if i[7:].startswith(hex_prefix)]
            if len(found) == 1:
                return self.store.images[found[0]], None
            if len(found) > 1 and len(hex_prefix) < 64:
                raise NotFound(f"No such image: {name} (the ID prefix is ambiguous)")
        if ref is not None and not ref.digest:
            shown = ref.familiar() if ref.tag else ref.with_tag("latest").familiar()
            raise NotFound(f"No such image: {shown}")
        raise NotFound(f"No such image: {name}")

    def repo_tags(self, image_id: str) -> list[str]:
        return [familiar(r) for r in self.store.refs_of(image_id) if "@" not in r]

    def repo_digests(self, image_id: str) -> list[str]:
        return [familiar(r) for r in self.store.refs_of(image_id) if "@" in r]

    # -- read ------------------------------------------------------------------------------

    def _created(self, record: ImageRecord) -> float:
        return parse_rfc3339(record.config.get("created", "")) or record.created_at

    def _labels(self, record: ImageRecord) -> dict[str, str]:
        return (record.config.get("config") or {}).get("Labels") or {}

    def _children(self) -> set[str]:
        return {r.parent for r in self.store.images.values() if r.parent}

    def list_images(
        self, filters: Filters, all_images: bool = False, shared_size: bool = False
    ) -> list[dict[str, Any]]:
        filters.validate(IMAGE_LIST_FILTERS)
        dangling = filters.bool_value("dangling")
        before = [self.resolve(n) for n in filters.get("before")]
        since = [self.resolve(n) for n in filters.get("since")]
        until = [parse_timestamp(u) for u in filters.get("until")]
        parents = self._children()
        layer_users: dict[str, int] = {}
        for record in self.store.images.values():
            for diff_id in set(record.diff_ids):
                layer_users[diff_id] = layer_users.get(diff_id, 0) + 1
        result = []
        for record in self.store.images.values():
            tags = self.repo_tags(record.id)
            created = self._created(record)
            untagged = not tags and not self.repo_digests(record.id)
            if not all_images and untagged and record.id in parents and dangling is None:
                continue  # an intermediate layer of a build, shown only with --all
            if dangling is not None and dangling != (not tags):
                continue
            if any(created >= self._created(b) for b in before):
                continue
            if any(created <= self._created(s) for s in since):
                continue
            if any(created > u for u in until):
                continue
            if not filters.match_labels(self._labels(record)):
                continue
            if filters.get("reference") and not self._matches_reference(record, filters):
                continue
            summary = self._summary(record, tags, created)
            if shared_size:
                summary["SharedSize"] = sum(
                    self._layer_size(record, i)
                    for i, d in enumerate(record.diff_ids)
                    if layer_users.get(d, 0) > 1
                )
            result.append(summary)
        result.sort(key=lambda s: s["Created"], reverse=True)
        return result

    def _matches_reference(self, record: ImageRecord, filters: Filters) -> bool:
        for ref in self.store.refs_of(record.id):
            parsed = parse_reference(ref, default_tag=None)
            names = {parsed.familiar(), parsed.familiar_name}
            for pattern in filters.get("reference"):
                if any(fnmatch.fnmatchcase(n, pattern) for n in names):
                    return True
        return False

    def _summary(self, record: ImageRecord, tags: list[str], created: float) -> dict[str, Any]:
        return {
            "Id": record.id,
            "ParentId": record.parent,
            "RepoTags": tags,
            "RepoDigests": self.repo_digests(record.id),
            "Created": int(created),
            "Size": record.size,
            "SharedSize": -1,
            "VirtualSize": record.size,
            "Labels": self._labels(record),
            "Containers": -1,
        }

    def _layer_size(self, record: ImageRecord, index: int) -> int:
        return self.store.snapshots.info(chain_ids(record.diff_ids)[index]).size

    def inspect(self, name: str, api_version: tuple[int, int] = (1, 47)) -> dict[str, Any]:
        record = self.resolve(name)
        config = record.config
        chain = record.chain_id
        lowers = self.store.snapshots.lowerdirs(chain) if chain else []
        data: dict[str, Any] = {
            "Id": record.id,
            "RepoTags": self.repo_tags(record.id),
            "RepoDigests": self.repo_digests(record.id),
            "Parent": record.parent,
            "Comment": config.get("comment", ""),
            "Created": config.get("created") or rfc3339_nano(record.created_at),
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": config.get("config") or {},
            "Architecture": config.get("architecture", ""),
            "Os": config.get("os", ""),
            "Size": record.size,
            "GraphDriver": {
                "Name": storage_driver(),
                "Data": {"LowerDir": ":".join(str(p) for p in lowers)},
            },
            "RootFS": {"Type": "layers", "Layers": list(record.diff_ids)},
            "Metadata": {"LastTagTime": record.last_tag_time or "0001-01-01T00:00:00Z"},
        }
        if config.get("variant"):
            data["Variant"] = config["variant"]
        if api_version < (1, 44):
            data["VirtualSize"] = record.size
        if api_version < (1, 45):
            data["Container"] = config.get("container", "")
            data["ContainerConfig"] = config.get("container_config") or {}
        return data

    def history(self, name: str) -> list[dict[str, Any]]:
        record = self.resolve(name)
        entries = record.config.get("history") or []
        layer = 0
        rows = []
        for entry in entries:
            size = 0
            if not entry.get("empty_layer") and layer < len(record.diff_ids):
                size = self._layer_size(record, layer)
                layer += 1
            rows.append(
                {
                    "Id": "<missing>",
                    "Created": int(parse_rfc3339(entry.get("created", ""))),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": entry.get("comment", ""),
                }
            )
        rows.reverse()
        # As dockerd: each parent image still here (a build's steps) names its own entry.
        current: ImageRecord | None = record
        for row in rows:
            if current is None:
                break
            row["Id"] = current.id
            row["Tags"] = self.repo_tags(current.id) or None
            current = self.store.images.get(current.parent)
        return rows

    # -- write -----------------------------------------------------------------------------

    def _set_ref(self, ref: Reference, image_id: str) -> str | None:
        """Point ``ref`` at ``image_id``; return the image it pointed at before, if another."""
        key = str(ref)
        previous = self.store.refs.get(key)
        self.store.refs[key] = image_id
        record = self.store.images[image_id]
        record.last_tag_time = rfc3339_nano()
        self.store.update(record)
        return previous if previous != image_id else None

    async def tag(self, name: str, repo: str, tag: str | None) -> None:
        async with self.lock:
            record = self.resolve(name)
            if not repo:
                raise InvalidParameter("repository name must have at least one component")
            ref = parse_normalized_named(repo)
            if ref.digest:
                raise InvalidParameter("refusing to create a tag with a digest reference")
            if ref.tag and tag:
                raise InvalidParameter("invalid reference format")
            ref = ref if ref.tag else parse_reference(f"{ref}:{tag or 'latest'}")
            await asyncio.to_thread(self.tag_locked, record.id, [ref])
        self.events.publish("image", "tag", record.id, {"name": ref.familiar()})

    def tag_locked(self, image_id: str, refs: list[Reference]) -> list[str]:
        """Point each reference at the image; return the IDs of images that lost a tag."""
        displaced = [p for ref in refs if (p := self._set_ref(ref, image_id))]
        self.store.save_refs()
        return displaced

    async def delete(
        self, name: str, force: bool = False, prune: bool = True
    ) -> list[dict[str, str]]:
        async with self.lock:
            return await asyncio.to_thread(self._delete_locked, name, force, prune)

    def _delete_locked(self, name: str, force: bool, prune: bool) -> list[dict[str, str]]:
        record, key = self.lookup(name)
        refs = self.store.refs_of(record.id)
        users = self.usage(record.id)
        report: list[dict[str, str]] = []
        if key is not None:
            doomed = [key, *self._digest_refs_going_with(key, refs)]
            if len(refs) > len(doomed) or (users and force):
                for doomed_key in doomed:
                    self._untag(doomed_key, record.id, report)
                return report
            if users:
                self._raise_in_use(record, users)
            for doomed_key in doomed:
                self._untag(doomed_key, record.id, report)
        else:
            if users and (not force or any(u.running for u in users)):
                self._raise_in_use(record, users)
            if len(refs) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {short_id(record.id)} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
            for ref_key in refs:
                self._untag(ref_key, record.id, report)
            if users:
                return report
        self._remove_image(record, report)
        if prune:
            self._remove_parents(record, report)
        return report

    def _remove_parents(self, record: ImageRecord, report: list[dict[str, str]]) -> None:
        """As dockerd: untagged parents (a build's step images) that nothing else uses go
        with their last child."""
        images = self.store.images
        parent = images.get(record.parent)
        while parent is not None:
            if self.store.refs_of(parent.id) or self.usage(parent.id):
                return
            if any(r.parent == parent.id for r in images.values()):
                return
            self._remove_image(parent, report)
            parent = images.get(parent.parent)

    @staticmethod
    def _digest_refs_going_with(key: str, refs: list[str]) -> list[str]:
        """As dockerd: removing a repository's last tag also removes that repository's digest
        references (``repo@sha256:…``) to the image."""
        if "@" in key:
            return []
        name = parse_reference(key).name
        same_repo = [r for r in refs if r != key and parse_reference(r).name == name]
        if any("@" not in r for r in same_repo):
            return []
        return same_repo

    def _raise_in_use(self, record: ImageRecord, users: list[ContainerUse]) -> None:
        running = [u for u in users if u.running]
        user = (running or users)[0]
        state = "running" if running else "stopped"
        hardness = "cannot be forced" if running else "must be forced"
        raise Conflict(
            f"conflict: unable to delete {short_id(record.id)} ({hardness}) - image is being "
            f"used by {state} container {user.container_id[:12]}"
        )

    def _untag(self, key: str, image_id: str, report: list[dict[str, str]]) -> None:
        self.store.refs.pop(key, None)
        self.store.save_refs()
        shown = familiar(key)
        report.append({"Untagged": shown})
        self.events.publish("image", "untag", image_id, {"name": shown})

    def _remove_image(self, record: ImageRecord, report: list[dict[str, str]]) -> int:
        self.store.remove(record.id)
        report.append({"Deleted": record.id})
        self.events.publish("image", "delete", record.id, {"name": record.id})
        return self.collect_garbage()

    def collect_garbage(self) -> int:
        """Remove layers and blobs no image uses any more; return the bytes freed."""
        used_snapshots = self.store.in_use_snapshots()
        freed = 0
        for chain in self.store.snapshots.chain_ids():
            if chain not in used_snapshots:
                with contextlib.suppress(NotFound):
                    freed += self.store.snapshots.info(chain).size
                self.store.snapshots.remove(chain)
        used_blobs = self.store.in_use_blobs()
        for digest in list(self.store.content.digests()):
            if digest not in used_blobs:
                self.store.content.delete(digest)
        return freed

    async def prune(self, filters: Filters) -> dict[str, Any]:
        filters.validate(PRUNE_FILTERS)
        dangling = filters.bool_value("dangling")
        dangling = True if dangling is None else dangling
        until = [parse_timestamp(u) for u in filters.get("until")]
        async with self.lock:
            return await asyncio.to_thread(self._prune_locked, filters, dangling, until)

    def _prune_locked(self, filters: Filters, dangling: bool, until: list[float]) -> dict[str, Any]:
        deleted: list[dict[str, str]] = []
        freed = 0
        for record in list(self.store.images.values()):
            tags = self.repo_tags(record.id)
            if dangling and tags:
                continue
            if self.usage(record.id) or any(self._created(record) > u for u in until):
                continue
            labels = self._labels(record)
            if not filters.match_labels(labels) or not filters.match_not_labels(labels):
                continue
            for ref in self.store.refs_of(record.id):
                self._untag(ref, record.id, deleted)
            freed += self._remove_image(record, deleted)
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": freed}
