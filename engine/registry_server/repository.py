"""Per-repository index: tags, the manifests a repository holds and the blobs linked into it.

Blob and manifest bytes live once in the shared content store; a repository only lists the
digests it may serve, as ``repositories/<name>/_index.json``. A leading underscore cannot start
a name component, so the index never collides with a nested repository's directory.

Each index is written atomically; updates to one repository are serialised by a lock, and
the server holds the root's lock file, so the in-memory copy is always the one on disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from engine.meta.atomic import read_json, remove_stale_temps, write_json
from engine.registry_server.names import check_name

INDEX = "_index.json"
T = TypeVar("T")


@dataclass
class RepositoryIndex:
    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, str] = field(default_factory=dict)  # digest -> media type
    blobs: set[str] = field(default_factory=set)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RepositoryIndex:
        return cls(
            dict(value.get("tags", {})),
            dict(value.get("manifests", {})),
            set(value.get("blobs", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {"tags": self.tags, "manifests": self.manifests, "blobs": sorted(self.blobs)}

    def copy(self) -> RepositoryIndex:
        return RepositoryIndex(dict(self.tags), dict(self.manifests), set(self.blobs))

    def resolve(self, reference: str) -> str | None:
        """The digest a tag or digest reference names in this repository."""
        digest = self.tags.get(reference, reference)
        return digest if digest in self.manifests else None

    def delete_manifest(self, digest: str) -> bool:
        """Forget a manifest and every tag pointing at it, as distribution does."""
        if self.manifests.pop(digest, None) is None:
            return False
        self.tags = {tag: d for tag, d in self.tags.items() if d != digest}
        return True


class Repositories:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, RepositoryIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _index_path(self, name: str) -> Path:
        path = self.root.joinpath(*check_name(name).split("/"), INDEX)
        # The name grammar already rules out escapes; this keeps it true if the grammar changes.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"repository path outside the root: {name!r}")
        return path

    def _load(self, name: str) -> RepositoryIndex | None:
        try:
            return RepositoryIndex.from_json(read_json(self._index_path(name)))
        except FileNotFoundError:
            return None

    async def get(self, name: str) -> RepositoryIndex | None:
        """The repository's index (do not mutate it), or None when it does not exist."""
        if name not in self._cache:
            index = await asyncio.to_thread(self._load, name)
            if index is None:
                return None
            self._cache.setdefault(name, index)
        return self._cache[name]

    async def update(self, name: str, change: Callable[[RepositoryIndex], T]) -> T:
        """Apply ``change`` to a copy of the index, persist it, then make it current.

        The repository is created when it does not exist yet. A failed write leaves the
        previous index in place.
        """
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            current = await self.get(name)
            updated = current.copy() if current is not None else RepositoryIndex()
            result = change(updated)
            await asyncio.to_thread(self._write, name, updated)
            self._cache[name] = updated
            return result

    def _write(self, name: str, index: RepositoryIndex) -> None:
        path = self._index_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, index.to_json())

    def names(self) -> list[str]:
        """Every repository, sorted; blocking (walks the tree)."""
        found = []
        for directory, _subdirs, files in os.walk(self.root):
            if INDEX in files:
                found.append(Path(directory).relative_to(self.root).as_posix())
        return sorted(found)

    def clean_temps(self) -> None:
        """Remove temp files that a crash left next to the indexes; blocking."""
        for directory, _subdirs, _files in os.walk(self.root):
            remove_stale_temps(Path(directory))
