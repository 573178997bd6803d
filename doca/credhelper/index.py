"""The helper's index: server URL → username, no secrets (keyring has no listing).

One JSON file under the user data dir (platformdirs, "doca"). Every change takes an exclusive
`fcntl.flock` on a sibling lock file for its whole read-modify-write, and writes the new version
to a temp file that is fsynced and renamed over the old one (then the directory is fsynced), so
concurrent stores never lose each other's entries and a crash never leaves a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs

INDEX_NAME = "credhelper-index.json"


def default_dir() -> Path:
    return Path(platformdirs.user_data_dir("doca"))


class CorruptIndex(Exception):
    """The index file is unreadable; the message says which file."""


class Index:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_dir()
        self.path = self.directory / INDEX_NAME
        self.lock_path = self.directory / (INDEX_NAME + ".lock")

    def read(self) -> dict[str, str]:
        """The current entries ({} if none yet). No lock needed: renames are atomic."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptIndex(f"credential index {self.path} is corrupt: {exc}") from None
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise CorruptIndex(f"credential index {self.path} is corrupt: no 'entries' object")
        return {str(k): str(v) for k, v in entries.items()}

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the index's exclusive lock (blocking) for a read-modify-write."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def write(self, entries: dict[str, str]) -> None:
        """Replace the index atomically. Call with the lock held."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = (
            json.dumps({"version": 1, "entries": dict(sorted(entries.items()))}, indent=2) + "\n"
        )
        fd, tmp = tempfile.mkstemp(prefix=".credhelper-index.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def set(self, server_url: str, username: str) -> None:
        with self.locked():
            entries = self.read()
            entries[server_url] = username
            self.write(entries)

    def remove(self, server_url: str) -> None:
        with self.locked():
            entries = self.read()
            if entries.pop(server_url, None) is not None:
                self.write(entries)
