"""Image filesystems mounted for the builder: a writable one whose changes become the next
layer (COPY, ADD, WORKDIR), and read-only ones to copy from (``COPY --from``)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.images.service import ImageService
from engine.images.store import ImageRecord
from engine.runtime.mounts import is_mountpoint, mount, mount_overlay, unmount


@dataclass(frozen=True)
class Workspace:
    root: Path  # the merged filesystem to change
    upper: Path  # what changed, in overlayfs' terms


def _discard(directory: Path) -> None:
    """Remove a workspace unless something is still mounted in it (an unmount failed):
    deleting through a mount would reach the image's layers."""
    if is_mountpoint(directory) or is_mountpoint(directory / "merged"):
        return
    shutil.rmtree(directory, ignore_errors=True)


def _lowers(images: ImageService, image: ImageRecord | None) -> list[Path]:
    chain = image.chain_id if image else None
    return images.store.snapshots.lowerdirs(chain) if chain else []


@contextlib.contextmanager
def writable(images: ImageService, image: ImageRecord | None, scratch: Path) -> Iterator[Workspace]:
    """``image``'s files with a fresh upper layer; FROM scratch works on the upper directly."""
    scratch.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(dir=scratch, prefix="ws-"))
    upper = directory / "upper"
    lowers = _lowers(images, image)
    try:
        if not lowers:
            upper.mkdir()
            yield Workspace(upper, upper)
            return
        merged = directory / "merged"
        mount_overlay(lowers, upper, directory / "work", merged)
        try:
            yield Workspace(merged, upper)
        finally:
            unmount(merged)
    finally:
        _discard(directory)


@contextlib.contextmanager
def readonly(images: ImageService, image: ImageRecord | None, scratch: Path) -> Iterator[Path]:
    """``image``'s files, read-only."""
    lowers = _lowers(images, image)
    if len(lowers) == 1:
        yield lowers[0]
        return
    scratch.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(dir=scratch, prefix="ro-"))
    try:
        if not lowers:
            yield directory  # FROM scratch with nothing in it yet
            return
        mount("overlay", directory, "overlay", 0, "lowerdir=" + ":".join(map(str, lowers)))
        try:
            yield directory
        finally:
            unmount(directory)
    finally:
        _discard(directory)
