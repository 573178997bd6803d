"""Resolving a path inside a container's root filesystem without ever leaving it.

An image may hold symlinks meant for the container (``etc -> /etc``, ``passwd ->
../../shared/passwd``); followed naively on the host they point at the host's files.
``resolve_in_root`` walks the path one component at a time as if ``root`` were ``/``, as
dockerd's FollowSymlinkInScope and filepath-securejoin do:

* an absolute link target starts again at ``root``;
* ``..`` never climbs above ``root``;
* a component that does not exist is taken as it is, and so is the rest of the path, so the
  result may name something that does not exist (yet);
* more than ``MAX_LINK_HOPS`` links refuse the path.

Only ``os.lstat`` and ``os.readlink`` touch the filesystem, on paths whose components below
``root`` are known not to be symlinks, so nothing outside ``root`` is ever followed. ``root``
itself is trusted and taken as given.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from pathlib import Path

from engine.errors import InvalidParameter

MAX_LINK_HOPS = 255

_MISSING = (errno.ENOENT, errno.ENOTDIR)


def resolve_in_root(root: Path, path: str) -> Path:
    """``path`` (absolute or not) resolved inside ``root``; a path below ``root``."""
    root = Path(root)
    pending = deque(path.split("/"))
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        try:
            info = os.lstat(candidate)
        except OSError as exc:
            if exc.errno not in _MISSING:
                raise
            resolved.append(part)  # missing: the rest is taken lexically
            continue
        if not stat.S_ISLNK(info.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise InvalidParameter("too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved.clear()
        pending.extendleft(reversed(target.split("/")))
    return root.joinpath(*resolved)
