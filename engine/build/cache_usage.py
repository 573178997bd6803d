"""The build cache as ``docker system df`` shows it and ``docker builder prune`` empties it.

A cache entry is *in use* while its image is needed anyway: tagged, run by a container, or
the parent of such an image. Pruning removes the entries not in use (every entry with
``all``) and the untagged step images that nothing needs any more.
"""

from __future__ import annotations

from typing import Any

from engine.build.cache import BuildCache, CacheEntry
from engine.containers.service import ContainerService
from engine.errors import InvalidParameter
from engine.filters import Filters, parse_timestamp
from engine.images.service import ImageService
from engine.timefmt import rfc3339_nano

PRUNE_FILTERS = ("until", "id", "description", "type", "inuse", "shared", "private")


def images_needed(images: ImageService, containers: ContainerService) -> set[str]:
    store = images.store
    roots = set(store.refs.values()) | {r.image_id for r in containers.store}
    needed: set[str] = set()
    for image_id in roots:
        while image_id and image_id not in needed and image_id in store.images:
            needed.add(image_id)
            image_id = store.images[image_id].parent
    return needed


def _size(images: ImageService, entry: CacheEntry) -> int:
    record = images.store.images.get(entry.image_id)
    parent = images.store.images.get(entry.parent_id)
    if record is None:
        return 0
    return max(record.size - (parent.size if parent else 0), 0)


def _row(images: ImageService, entry: CacheEntry, in_use: bool) -> dict[str, Any]:
    return {
        "ID": entry.key[:25],
        "Parent": entry.parent_id,
        "Parents": [entry.parent_id] if entry.parent_id else None,
        "Type": "regular",
        "Description": entry.description,
        "InUse": in_use,
        "Shared": False,
        "Size": _size(images, entry),
        "CreatedAt": rfc3339_nano(entry.created_at),
        "LastUsedAt": rfc3339_nano(entry.last_used_at),
        "UsageCount": entry.usage_count,
    }


def usage_rows(
    cache: BuildCache, images: ImageService, containers: ContainerService
) -> list[dict[str, Any]]:
    needed = images_needed(images, containers)
    return [
        _row(images, entry, entry.image_id in needed)
        for entry in cache.entries()
        if entry.image_id in images.store.images
    ]


def prune(
    cache: BuildCache,
    images: ImageService,
    containers: ContainerService,
    all_entries: bool,
    filters: Filters,
) -> dict[str, Any]:
    """Call under the image service's lock, from a thread."""
    filters.validate(PRUNE_FILTERS)
    until = [parse_timestamp(u) for u in filters.get("until")]
    needed = images_needed(images, containers)
    doomed: list[CacheEntry] = []
    for entry in cache.entries():
        gone = entry.image_id not in images.store.images
        in_use = entry.image_id in needed
        if until and entry.last_used_at >= min(until):
            continue
        if gone or all_entries or not in_use:
            doomed.append(entry)
    # Untagged step images nothing needs go with their entries, from the leaves up.
    _remove_orphans(images, {e.image_id for e in doomed} - needed)
    cache.forget({e.key for e in doomed})
    freed = images.collect_garbage()
    return {"CachesDeleted": [e.key[:25] for e in doomed] or None, "SpaceReclaimed": freed}


def _remove_orphans(images: ImageService, candidates: set[str]) -> None:
    store = images.store
    changed = True
    while changed:
        changed = False
        for image_id in list(candidates):
            if image_id not in store.images or store.refs_of(image_id):
                candidates.discard(image_id)
                continue
            if not any(r.parent == image_id for r in store.images.values()):
                store.remove(image_id)
                candidates.discard(image_id)
                changed = True


def check_prune_query(value: str) -> None:
    if value and not value.isdigit():
        raise InvalidParameter(f"invalid keep-storage value: {value}")
