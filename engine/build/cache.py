"""The build cache: which image a step produced from which parent.

A step's key covers everything that decides its result: the parent image, the step as
recorded in history (a RUN's command and build args, a COPY's source checksum) and the
config the step leaves. A rebuild that finds the key and its image reuses the image, as the
classic builder does by comparing each child image's config with the one it would make.
Kept in ``<data-root>/builder/cache.json``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from engine.meta.atomic import read_json, write_json

log = logging.getLogger(__name__)


@dataclass
class CacheEntry:
    key: str
    image_id: str
    parent_id: str
    description: str  # the step, as its history entry reads
    created_at: float
    last_used_at: float
    usage_count: int = 1


def step_key(parent_id: str, created_by: str, config: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for part in (
        parent_id.encode(),
        created_by.encode(),
        orjson.dumps(config, option=orjson.OPT_SORT_KEYS),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class BuildCache:
    def __init__(self, directory: Path) -> None:
        self._file = directory / "cache.json"
        self._lock = threading.Lock()
        self._entries: dict[str, CacheEntry] | None = None

    def _load(self) -> dict[str, CacheEntry]:
        if self._entries is None:
            entries: dict[str, CacheEntry] = {}
            try:
                raw = read_json(self._file) if self._file.exists() else {}
                if not isinstance(raw, dict):
                    raise ValueError("not a JSON object")
                for key, value in raw.items():
                    entries[key] = CacheEntry(**value)
            except (OSError, ValueError, TypeError) as exc:
                log.warning("build cache unreadable, starting afresh: %s", exc)
                entries = {}
            self._entries = entries
        return self._entries

    def _save(self) -> None:
        entries = self._load()
        self._file.parent.mkdir(parents=True, exist_ok=True)
        write_json(self._file, {k: asdict(v) for k, v in entries.items()})

    def lookup(self, key: str, exists: set[str] | dict[str, Any]) -> str | None:
        """The image the step made before, if that image still exists."""
        with self._lock:
            entry = self._load().get(key)
            if entry is None or entry.image_id not in exists:
                return None
            entry.last_used_at = time.time()
            entry.usage_count += 1
            self._save()
            return entry.image_id

    def record(self, key: str, image_id: str, parent_id: str, description: str) -> None:
        now = time.time()
        with self._lock:
            self._load()[key] = CacheEntry(key, image_id, parent_id, description, now, now)
            self._save()

    def entries(self) -> list[CacheEntry]:
        with self._lock:
            return list(self._load().values())

    def forget(self, keys: set[str]) -> None:
        with self._lock:
            entries = self._load()
            for key in keys:
                entries.pop(key, None)
            self._save()
