"""COPY and ADD's ``--chown`` and ``--chmod`` flags.

``--chown`` is resolved as dockerd's classic builder resolves it (parseChownFlag): ``user`` alone
means ``user:user``; each side is a number or a name looked up in the *destination* image's
/etc/passwd or /etc/group — read inside its root filesystem, so an ``etc -> /etc`` symlink
never reads the host's files. ``--chmod`` is octal, as BuildKit accepts it (the classic builder
refuses the flag altogether).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter

MAX_ID = 2**31 - 1  # moby/sys/user's maxID
_MAX_DB_BYTES = 10 << 20
_ATOI = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts
_OCTAL = re.compile(r"[0-7]+")
_CHOWN_ERROR = "unable to convert uid/gid chown string to host mapping"


@dataclass(frozen=True)
class Ownership:
    uid: int
    gid: int


class _LookupError(Exception):
    pass


def resolve_chown(spec: str, root: Path) -> Ownership:
    """The uid and gid ``--chown=spec`` names, looked up in the image at ``root``."""
    try:
        parts = spec.split(":")
        if len(parts) > 2:
            raise _LookupError(f"invalid chown string format: {spec}")
        user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        passwd, groups = _resolve(root, "/etc/passwd"), _resolve(root, "/etc/group")
        uid = _lookup(passwd, "/etc/passwd", user, "uid for user", "no such user")
        gid = _lookup(groups, "/etc/group", group, "gid for group", "no such group")
    except _LookupError as e:
        raise InvalidParameter(f"{_CHOWN_ERROR}: {e}") from e
    return Ownership(uid, gid)


def parse_chmod(spec: str) -> int:
    """The mode ``--chmod=spec`` sets: octal, at most 07777."""
    if not _OCTAL.fullmatch(spec) or int(spec, 8) > 0o7777:
        raise InvalidParameter(
            f"invalid chmod parameter: '{spec}'. it should be octal string and between 0 and 07777"
        )
    return int(spec, 8)


def _resolve(root: Path, db: str) -> Path:
    try:
        return resolve_in_root(root, db)
    except InvalidParameter as e:  # a symlink loop
        raise _LookupError(f"can't resolve {db} path in container rootfs: {e.message}") from e


def _lookup(path: Path, db: str, name: str, what: str, missing: str) -> int:
    if _ATOI.fullmatch(name):  # a number is an id, never a name
        value = int(name)
        if not 0 <= value <= MAX_ID:
            raise _LookupError(f"uids and gids must be in range 0-{MAX_ID}")
        return value
    try:
        entries = _read_db(path)
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise _LookupError(f"can't find {what} {name}: open {db}: {reason}") from e
    for fields in entries:
        if fields[0] == name:
            # moby/sys/user reads a malformed id as 0
            return int(fields[2]) if len(fields) > 2 and _ATOI.fullmatch(fields[2]) else 0
    raise _LookupError(f"can't find {what} {name}: {missing}: {name}")


def _read_db(path: Path) -> list[list[str]]:
    """The colon-separated fields of each non-blank line of the file at ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(_MAX_DB_BYTES + 1)
    if len(data) > _MAX_DB_BYTES:
        raise OSError(0, f"file exceeds {_MAX_DB_BYTES} bytes")
    lines = (line.strip() for line in data.decode(errors="replace").splitlines())
    return [line.split(":") for line in lines if line]
