"""Turning an overlayfs upper directory into an image layer tar, and listing its changes.

overlayfs marks a deleted file with a 0/0 character device and a directory whose lower
contents are hidden with an opaque xattr (``overlay_marks``); image layers spell these
``.wh.<name>`` and ``.wh..wh..opq`` (the OCI image spec's whiteouts).
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine.rootless.overlay_marks import OPAQUE_XATTRS

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"

# Docker's change kinds
MODIFIED = 0
ADDED = 1
DELETED = 2


def _is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    """Marked opaque by the kernel's overlayfs or by fuse-overlayfs, in any spelling."""
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _walk(
    root: Path, placeholders: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(relative path, path, lstat) of everything under ``root``, parents first, sorted.

    ``placeholders``: relative paths that are skipped when they are empty files — the mount
    points a runtime creates for bind-mounted files, which are not the container's changes.
    """
    stack = [""]
    while stack:
        relative = stack.pop()
        directory = root / relative if relative else root
        names = sorted(os.listdir(directory), reverse=True)
        for name in names:
            rel = f"{relative}/{name}" if relative else name
            path = root / rel
            info = os.lstat(path)
            if rel in placeholders and stat.S_ISREG(info.st_mode) and info.st_size == 0:
                continue
            yield rel, path, info
            if stat.S_ISDIR(info.st_mode):
                stack.append(rel)


def write_layer(upper: Path, out: IO[bytes], placeholders: frozenset[str] = frozenset()) -> int:
    """Write the changes in ``upper`` as an uncompressed layer tar; return its content size."""
    size = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        hardlinks: dict[tuple[int, int], str] = {}
        for rel, path, info in sorted(_walk(upper, placeholders), key=lambda item: item[0]):
            parent, _, name = rel.rpartition("/")
            prefix = f"{parent}/" if parent else ""
            if _is_whiteout(info):
                marker = tarfile.TarInfo(f"{prefix}{WHITEOUT_PREFIX}{name}")
                marker.mtime = int(info.st_mtime)
                tar.addfile(marker)
                continue
            entry = tar.gettarinfo(str(path), arcname=rel)
            entry.uname = entry.gname = ""
            key = (info.st_dev, info.st_ino)
            if entry.isreg() and info.st_nlink > 1:
                if key in hardlinks:
                    entry.type = tarfile.LNKTYPE
                    entry.linkname = hardlinks[key]
                    entry.size = 0
                else:
                    hardlinks[key] = rel
            if entry.isreg():
                with open(path, "rb") as data:
                    tar.addfile(entry, data)
                size += entry.size
            else:
                tar.addfile(entry)
            if entry.isdir() and _is_opaque(path):
                tar.addfile(tarfile.TarInfo(f"{rel}/{OPAQUE}"))
    return size


@dataclass(frozen=True)
class Change:
    path: str
    kind: int

    def to_json(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": self.kind}


def changes(
    upper: Path, lowers: list[Path], placeholders: frozenset[str] = frozenset()
) -> list[Change]:
    """``docker diff``: what the container added (A), changed (C) or deleted (D)."""
    result: dict[str, int] = {}

    def in_lower(rel: str) -> bool:
        return any(os.path.lexists(lower / rel) for lower in lowers)

    for rel, path, info in _walk(upper, placeholders):
        parent = rel.rpartition("/")[0]
        if _is_whiteout(info):
            result["/" + rel] = DELETED
        elif stat.S_ISDIR(info.st_mode) and in_lower(rel):
            # A directory that exists below shows as changed only if something in it changed,
            # which marks it through its children (below) or when it was made opaque.
            if _is_opaque(path):
                result["/" + rel] = MODIFIED
            continue
        else:
            result["/" + rel] = MODIFIED if in_lower(rel) else ADDED
        while parent:
            key = "/" + parent
            if result.get(key) not in (ADDED, DELETED):
                result[key] = MODIFIED
            parent = parent.rpartition("/")[0]
    return [Change(path, kind) for path, kind in sorted(result.items())]
