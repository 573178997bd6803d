"""Whether the remapped root can reach the engine's data root, as dockerd checks at start.

A container's root filesystem and its /etc files live under the data root, and the runtime
reaches them as the container's root: a host UID without privilege on the host. Every
directory above them must let it through.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.errors import InvalidParameter


def can_traverse(info: os.stat_result, uid: int, gid: int) -> bool:
    """dockerd's ``canAccess``: the search bit for others, or for ``uid``/``gid`` as owner."""
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o001:
        return True
    if info.st_uid == uid and mode & 0o100:
        return True
    return info.st_gid == gid and bool(mode & 0o010)


def check_root_access(data_root: Path, root_pair: tuple[int, int]) -> None:
    """Refuse a data root the remapped root cannot reach. The engine makes the data root
    itself searchable (0711), and so are the directories above it that it creates."""
    for directory in data_root.parents:
        if directory == Path("/"):
            break
        try:
            info = os.stat(directory)
        except FileNotFoundError:
            continue
        if not can_traverse(info, *root_pair):
            raise InvalidParameter(
                f"a subdirectory in your graphroot path ({data_root}) restricts access to the "
                "remapped root uid/gid; please fix by allowing 'o+x' permissions on existing "
                "directories"
            )
