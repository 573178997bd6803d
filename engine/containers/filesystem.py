"""A container's files: ``docker export``, ``docker diff`` and ``docker commit``."""

from __future__ import annotations

import contextlib
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from engine.containers.lifecycle import Lifecycle
from engine.containers.model import ContainerRecord
from engine.containers.state import is_running
from engine.images.changes import apply_changes
from engine.images.commit import layer_from_upper, new_image
from engine.images.reference import Reference
from engine.images.service import ImageService
from engine.runtime.mounts import is_mountpoint, mount_overlay, unmount
from engine.snapshots.difftar import Change, changes
from engine.userns.process import process_mapping


def lowerdirs(lifecycle: Lifecycle, images: ImageService, record: ContainerRecord) -> list[Path]:
    image = images.store.images.get(record.image_id)
    chain = image.chain_id if image else None
    return images.store.snapshots.lowerdirs(chain) if chain else []


# Files bind-mounted into every container; the runtime leaves empty mount points for them.
MOUNT_POINTS = frozenset({"etc/hostname", "etc/hosts", "etc/resolv.conf"})

# Temporary mounts of stopped containers' roots, counted so that two exports of the same
# container do not unmount each other's view.
_mount_lock = threading.Lock()
_mount_users: dict[str, int] = {}


@contextlib.contextmanager
def mounted_rootfs(
    lifecycle: Lifecycle, images: ImageService, record: ContainerRecord
) -> Iterator[Path]:
    """The container's merged root, mounted for the duration if it is not running."""
    paths = lifecycle.paths(record)
    with _mount_lock:
        if _mount_users.get(record.id, 0) == 0 and not is_mountpoint(paths.rootfs):
            lowers = lowerdirs(lifecycle, images, record) or [paths.data]
            mount_overlay(lowers, paths.upper, paths.work, paths.rootfs)
            _mount_users[record.id] = 1
        elif record.id in _mount_users:
            _mount_users[record.id] += 1
    try:
        yield paths.rootfs
    finally:
        with _mount_lock:
            users = _mount_users.get(record.id)
            if users is not None:
                _mount_users[record.id] = users - 1
                if users == 1:
                    del _mount_users[record.id]
                    if not is_running(record.state.status):
                        unmount(paths.rootfs, lazy=True)


def export(
    lifecycle: Lifecycle, images: ImageService, record: ContainerRecord, out: IO[bytes]
) -> None:
    """The container's whole filesystem as a tar, symlinks kept as links (never followed),
    owners as the container sees them."""
    # A running container's root is mounted idmapped (host IDs); a stopped one's, mounted
    # here, plainly (container IDs).
    running = is_running(record.state.status) and record.state.pid
    mapping = process_mapping(record.state.pid) if running else None
    with (
        mounted_rootfs(lifecycle, images, record) as root,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _walk_no_follow(root):
            rel = path.relative_to(root).as_posix()
            if rel.split("/")[0] in ("proc", "sys") and "/" in rel:
                continue  # kernel filesystems inside a running container
            try:
                entry = tar.gettarinfo(str(path), arcname=rel)
            except FileNotFoundError:
                continue  # removed by the running container meanwhile
            entry.uname = entry.gname = ""
            if mapping is not None:
                entry.uid, entry.gid = mapping.to_container(entry.uid, entry.gid)
            if entry.isreg():
                with open(path, "rb") as data:
                    tar.addfile(entry, data)
            else:
                tar.addfile(entry)


def _walk_no_follow(root: Path) -> Iterator[Path]:
    """Everything under ``root``, parents first; symlinks are entries, never descended into
    (an absolute link inside the container would otherwise lead to the host's files)."""
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        base = Path(directory)
        for name in sorted(dirs + files):
            yield base / name


def diff(lifecycle: Lifecycle, images: ImageService, record: ContainerRecord) -> list[Change]:
    paths = lifecycle.paths(record)
    if not paths.upper.exists():
        return []
    return changes(paths.upper, lowerdirs(lifecycle, images, record), MOUNT_POINTS)


def commit(
    lifecycle: Lifecycle,
    images: ImageService,
    record: ContainerRecord,
    ref: Reference | None,
    comment: str,
    author: str,
    change_lines: list[str],
    config_override: dict[str, Any] | None,
) -> str:
    """A new image: the container's image plus one layer of its changes. Call under the image
    service's lock, from a thread."""
    base = images.store.images[record.image_id]
    paths = lifecycle.paths(record)
    paths.upper.mkdir(parents=True, exist_ok=True)
    diff_id = layer_from_upper(images, paths.upper, MOUNT_POINTS)
    container_config = {**record.config, **(config_override or {})}
    container_config.pop("Image", None)
    container_config = apply_changes(container_config, change_lines)
    history = {
        "created_by": " ".join([record.path, *record.args]),
        **({"comment": comment} if comment else {}),
    }
    extra: dict[str, Any] = {"container": record.id}
    if author:
        extra["author"] = author
    if comment:
        extra["comment"] = comment
    image_id = new_image(images, base, container_config, history, diff_id=diff_id, extra=extra)
    if ref is not None:
        images.tag_locked(image_id, [ref])
    return image_id
