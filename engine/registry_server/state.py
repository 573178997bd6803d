"""Everything a running registry holds: its directories, the store, indexes and uploads.

Layout under the root::

    blobs/sha256/<hex>        blob and manifest bytes (engine.content's store)
    ingest/                   uploads in progress
    repositories/<name>/_index.json
    .lock                     held while a server uses the root
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from engine.content.store import ContentStore
from engine.errors import Conflict
from engine.registry_server.htpasswd import Htpasswd
from engine.registry_server.repository import Repositories
from engine.registry_server.uploads import Uploads


@dataclass
class RegistryState:
    root: Path
    store: ContentStore
    repositories: Repositories
    uploads: Uploads
    users: Htpasswd | None
    realm: str
    _lock_fd: int

    @classmethod
    def open(cls, root: Path, users: Htpasswd | None, realm: str) -> RegistryState:
        """Create the layout, take the root's lock and drop leftovers of a crash; blocking."""
        blobs, ingest, repos = root / "blobs" / "sha256", root / "ingest", root / "repositories"
        for directory in (blobs, ingest, repos):
            directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise Conflict(f"another registry is already serving {root}") from exc
        store = ContentStore(blobs, ingest)
        store.clean_ingest()
        repositories = Repositories(repos)
        repositories.clean_temps()
        return cls(root, store, repositories, Uploads(store), users, realm, fd)

    def close(self) -> None:
        """Release the root's lock; blocking."""
        os.close(self._lock_fd)
