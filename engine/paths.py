"""Every on-disk location the engine uses, derived from one data root and one exec root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_ROOT = Path("/var/lib/doca")
DEFAULT_EXEC_ROOT = Path("/run/doca")
DEFAULT_SOCKET = "unix:///run/doca/doca.sock"


@dataclass(frozen=True)
class Paths:
    """The engine's directory layout (see design.md, "On disk")."""

    data_root: Path
    exec_root: Path

    @property
    def content(self) -> Path:
        return self.data_root / "content"

    @property
    def blobs(self) -> Path:
        return self.content / "blobs" / "sha256"

    @property
    def ingest(self) -> Path:
        """Half-written blobs; anything here after a crash is garbage."""
        return self.content / "ingest"

    @property
    def snapshots(self) -> Path:
        return self.data_root / "snapshots"

    @property
    def images(self) -> Path:
        return self.data_root / "images"

    @property
    def references(self) -> Path:
        return self.images / "references.json"

    @property
    def containers(self) -> Path:
        return self.data_root / "containers"

    @property
    def volumes(self) -> Path:
        return self.data_root / "volumes"

    @property
    def networks(self) -> Path:
        return self.data_root / "networks"

    @property
    def distribution(self) -> Path:
        """Registry bookkeeping that survives restarts: layer downloads to resume, and which
        compressed blob each pushed layer became."""
        return self.data_root / "distribution"

    @property
    def builder(self) -> Path:
        """The classic builder's cache: which image each build step produced."""
        return self.data_root / "builder"

    @property
    def netns(self) -> Path:
        """Containers' network namespaces, each pinned by a bind mount on a file."""
        return self.exec_root / "netns"

    @property
    def sandboxes(self) -> Path:
        """What the engine set up for each running container's network (runtime state)."""
        return self.exec_root / "sandboxes"

    @property
    def tmp(self) -> Path:
        """Scratch space on the data root's filesystem, so renames out of it are atomic."""
        return self.data_root / "tmp"

    @property
    def engine_id_file(self) -> Path:
        return self.data_root / "engine-id"

    def create(self) -> None:
        """Create the layout; the data root is private to the engine."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_root, 0o711)
        for path in (
            self.blobs,
            self.ingest,
            self.snapshots,
            self.images,
            self.containers,
            self.volumes,
            self.networks,
            self.tmp,
        ):
            path.mkdir(parents=True, exist_ok=True)
        self.exec_root.mkdir(parents=True, exist_ok=True)
        self.netns.mkdir(exist_ok=True)
        self.sandboxes.mkdir(mode=0o700, exist_ok=True)
