"""Resolving ``--user`` (name, uid, ``uid:gid``, ``name:group``) against the image's
/etc/passwd and /etc/group, as dockerd does through moby/sys/user's GetExecUser and
GetAdditionalGroups.

The files are looked up inside the rootfs (``resolve_in_root``, dockerd's
FollowSymlinkInScope), so an image's ``etc -> /etc`` never reads the host's databases.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter

MIN_ID = 0
MAX_ID = 2**31 - 1  # moby/sys/user's maxID, for 32-bit compatibility
MAX_DB_BYTES = 10 << 20  # moby/sys/user's maxUserFileBytes

_ATOI = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


@dataclass(frozen=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def _range_error() -> InvalidParameter:
    return InvalidParameter(f"uids and gids must be in range {MIN_ID}-{MAX_ID}")


def _atoi(text: str) -> int | None:
    return int(text) if _ATOI.fullmatch(text) else None


def _numeric(arg: str) -> int | None:
    """The id a user or group argument names if it is numeric (parseNumeric), else None."""
    value = _atoi(arg)
    if value is not None and not MIN_ID <= value <= MAX_ID:
        raise _range_error()
    return value


def _read_db(rootfs: Path, path: str) -> list[list[str]] | None:
    """The fields of each line of a colon-separated database inside ``rootfs``.

    None when the file cannot be opened or is not a regular file, as GetExecUserPath
    passes a nil reader then. Blank and ``#`` lines are skipped, as glibc does.
    """
    try:
        target = resolve_in_root(rootfs, path)
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            data = file.read(MAX_DB_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_DB_BYTES:
        raise InvalidParameter(f"read {path}: file exceeds {MAX_DB_BYTES} bytes")
    entries = []
    for raw in data.decode(errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            entries.append(line.split(":"))
    return entries


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _int_field(fields: list[str], index: int) -> int:
    # Go's parseLine ignores Atoi's errors: a bad number reads as 0, a huge one is clamped.
    value = _atoi(_field(fields, index))
    return 0 if value is None else max(-(2**63), min(value, 2**63 - 1))


def _passwd(rootfs: Path) -> list[_Passwd]:
    return [
        _Passwd(_field(f, 0), _int_field(f, 2), _int_field(f, 3), _field(f, 5))
        for f in _read_db(rootfs, "/etc/passwd") or []
    ]


def _groups(rootfs: Path) -> list[_Group]:
    groups = []
    for f in _read_db(rootfs, "/etc/group") or []:
        members = tuple(_field(f, 3).split(",")) if _field(f, 3) else ()
        groups.append(_Group(_field(f, 0), _int_field(f, 2), members))
    return groups


def _group_matches(group: _Group, arg: str, numeric: int | None) -> bool:
    # A numeric argument is always a gid, never a group name.
    return group.gid == numeric if numeric is not None else group.name == arg


def resolve_user(rootfs: Path, spec: str, group_add: list[str] | None = None) -> ExecUser:
    user_arg, _, group_arg = (spec or "").partition(":")
    uid_arg = _numeric(user_arg)
    gid_arg = _numeric(group_arg)
    uid, gid, home, matched = 0, 0, "", ""
    passwd = _passwd(rootfs)
    if not user_arg:
        entry = next((e for e in passwd if e.uid == uid), None)
    elif uid_arg is not None:  # a numeric user is always a uid, never a name
        entry = next((e for e in passwd if e.uid == uid_arg), None)
    else:
        entry = next((e for e in passwd if e.name == user_arg), None)
    if entry is not None:
        matched, uid, gid, home = entry.name, entry.uid, entry.gid, entry.home
    elif user_arg:
        if uid_arg is None:
            raise InvalidParameter(
                f"unable to find user {user_arg}: no matching entries in passwd file"
            )
        uid = uid_arg  # a uid with no passwd entry: group 0, no supplementary groups
    groups = _groups(rootfs) if group_arg or matched or group_add else []
    supplementary: list[int] = []
    if group_arg:
        found = next((g for g in groups if _group_matches(g, group_arg, gid_arg)), None)
        if found is not None:
            gid = found.gid
        elif gid_arg is not None:
            gid = gid_arg
        else:
            raise InvalidParameter(
                f"unable to find group {group_arg}: no matching entries in group file"
            )
    elif matched:
        # Supplementary groups only come with the implicit form (no explicit group).
        supplementary = [g.gid for g in groups if matched in g.members]
    supplementary += _additional_groups(groups, group_add or [])
    extra = tuple(dict.fromkeys(g for g in supplementary if g != gid))
    return ExecUser(uid, gid, extra, home or "/")


def _additional_groups(groups: list[_Group], wanted: list[str]) -> list[int]:
    """GetAdditionalGroups: each ``--group-add`` by name or gid, a free gid taken as is."""
    parsed = [(arg, _numeric(arg)) for arg in wanted]
    gids = []
    for arg, numeric in parsed:
        found = next((g for g in groups if _group_matches(g, arg, numeric)), None)
        if found is not None:
            if not MIN_ID <= found.gid <= MAX_ID:
                raise _range_error()
            gids.append(found.gid)
        elif numeric is not None:
            gids.append(numeric)
        else:
            raise InvalidParameter(f"unable to find group {arg}: no matching entries in group file")
    return gids
