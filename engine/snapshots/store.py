"""Unpacked image layers, one directory per chain ID, shared by every image that has them.

``snapshots/<chain hex>/diff`` holds a layer applied for overlayfs (whiteouts as 0/0 character
devices), ``meta.json`` its parent, diff ID and size. A snapshot is built in a temp directory and
renamed into place, so one that exists is whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import NotFound
from engine.meta.atomic import fsync_dir, read_json, write_json

_TMP_PREFIX = ".tmp-"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) " " DiffID)."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            text = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(text).hexdigest())
    return chains


@dataclass(frozen=True)
class SnapshotInfo:
    chain_id: str
    parent: str | None
    diff_id: str
    size: int


class SnapshotStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # A snapshot never changes once made: its meta is read once (every inspect and every
        # start walks a chain of them).
        self._infos: dict[str, SnapshotInfo] = {}

    def directory(self, chain_id: str) -> Path:
        return self.root / chain_id.removeprefix("sha256:")

    def diff(self, chain_id: str) -> Path:
        return self.directory(chain_id) / "diff"

    def exists(self, chain_id: str) -> bool:
        return (self.directory(chain_id) / "meta.json").is_file()

    def info(self, chain_id: str) -> SnapshotInfo:
        known = self._infos.get(chain_id)
        if known is not None:
            return known
        try:
            meta = read_json(self.directory(chain_id) / "meta.json")
        except FileNotFoundError as exc:
            raise NotFound(f"snapshot {chain_id} does not exist") from exc
        info = SnapshotInfo(chain_id, meta["parent"], meta["diff_id"], meta["size"])
        self._infos[chain_id] = info
        return info

    def create(
        self,
        chain_id: str,
        parent: str | None,
        diff_id: str,
        apply: Callable[[Path], int],
    ) -> SnapshotInfo:
        """Build the snapshot with ``apply(diff_dir) -> size`` unless it exists already."""
        if self.exists(chain_id):
            return self.info(chain_id)
        if parent is not None and not self.exists(parent):
            raise NotFound(f"parent snapshot {parent} does not exist")
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=_TMP_PREFIX))
        try:
            diff = tmp / "diff"
            diff.mkdir(mode=0o755)
            size = apply(diff)
            write_json(tmp / "meta.json", {"parent": parent, "diff_id": diff_id, "size": size})
            os.chmod(tmp, 0o700)
            try:
                os.rename(tmp, self.directory(chain_id))
            except OSError:
                # Another load unpacked the same layer meanwhile; theirs is as good as ours.
                if not self.exists(chain_id):
                    raise
            else:
                fsync_dir(self.root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.info(chain_id)

    def lowerdirs(self, chain_id: str) -> list[Path]:
        """The diff directories of a chain, topmost first, as overlayfs wants ``lowerdir``."""
        dirs: list[Path] = []
        current: str | None = chain_id
        while current is not None:
            dirs.append(self.diff(current))
            current = self.info(current).parent
        return dirs

    def remove(self, chain_id: str) -> None:
        self._infos.pop(chain_id, None)
        target = self.directory(chain_id)
        if not target.exists():
            return
        # Rename first so that a crash mid-delete leaves a temp dir, never half a snapshot.
        doomed = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{_TMP_PREFIX}rm-"))
        os.rename(target, doomed / "snapshot")
        shutil.rmtree(doomed, ignore_errors=True)

    def chain_ids(self) -> list[str]:
        return [
            "sha256:" + entry.name
            for entry in self.root.iterdir()
            if not entry.name.startswith(_TMP_PREFIX)
        ]

    def clean(self) -> int:
        """Remove snapshots a crash left half-built or half-deleted."""
        count = 0
        for entry in self.root.iterdir():
            if entry.name.startswith(_TMP_PREFIX) or not (entry / "meta.json").is_file():
                shutil.rmtree(entry, ignore_errors=True)
                count += 1
        return count
