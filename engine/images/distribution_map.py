"""What the engine knows about its layers in registries: compressed digests and repositories.

A layer is stored uncompressed (keyed by diff ID); a registry knows it by the digest of a
compressed form. Remembering diff ID → compressed digests lets a push ask the registry
whether it has the layer before compressing anything, and digest → repositories (per
registry) lets it mount the blob from a repository that has it instead of uploading it.
Losing the file only costs that shortcut, so it is written atomically but not fsynced apart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from engine.meta.atomic import read_json, write_json

log = logging.getLogger(__name__)

# Enough to find a blob again without letting a popular layer grow the file without bound.
MAX_DIGESTS_PER_LAYER = 4
MAX_REPOS_PER_BLOB = 5


class DistributionMap:
    """Thread-safe; ``load`` and ``record`` touch the disk, so call them off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._layers: dict[str, list[list[Any]]] = {}  # diff ID → [[digest, size], …]
        self._repos: dict[str, dict[str, list[str]]] = {}  # registry → digest → repos

    def load(self) -> DistributionMap:
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return self
        if isinstance(data, dict):
            layers, repos = data.get("layers"), data.get("repositories")
            self._layers = layers if isinstance(layers, dict) else {}
            self._repos = repos if isinstance(repos, dict) else {}
        return self

    def digests_for(self, diff_id: str) -> list[tuple[str, int]]:
        """Compressed forms known for a layer, most recently seen first."""
        with self._lock:
            entries = self._layers.get(diff_id, [])
            return [(str(e[0]), int(e[1])) for e in entries if _valid_entry(e)]

    def repos_for(self, registry: str, digest: str) -> list[str]:
        """Repositories of ``registry`` known to hold ``digest``, most recent first."""
        with self._lock:
            return list(self._repos.get(registry, {}).get(digest, []))

    def record(self, diff_id: str, digest: str, size: int, registry: str, repo: str) -> None:
        """Remember that ``repo`` on ``registry`` holds layer ``diff_id`` as blob ``digest``."""
        with self._lock:
            entries = [e for e in self._layers.get(diff_id, []) if e[:1] != [digest]]
            self._layers[diff_id] = [[digest, size], *entries][:MAX_DIGESTS_PER_LAYER]
            blobs = self._repos.setdefault(registry, {})
            repos = [r for r in blobs.get(digest, []) if r != repo]
            blobs[digest] = [repo, *repos][:MAX_REPOS_PER_BLOB]
            snapshot = {"layers": dict(self._layers), "repositories": dict(self._repos)}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.path, snapshot)
            except OSError as exc:
                log.warning("could not save %s: %s", self.path, exc)


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], int)
    )
