"""How much data a directory holds, as ``docker system df`` and prune report it."""

from __future__ import annotations

import os
import stat


def directory_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the regular files under ``path``, each inode counted once; links not followed."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if stat.S_ISREG(info.st_mode) and key not in seen:
                seen.add(key)
                total += info.st_size
    return total
