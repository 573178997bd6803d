"""Resolving ``--user`` (name, uid, ``uid:gid``, ``name:group``) against the image's
/etc/passwd and /etc/group, as dockerd does through libcontainer's user package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidParameter


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _read_db(path: Path) -> list[list[str]]:
    """Entries of a colon-separated database; a missing or unreadable file is empty."""
    try:
        # The file sits in the container's root: never follow a symlink out of it.
        if path.is_symlink():
            return []
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, spec: str, group_add: list[str] | None = None) -> ExecUser:
    user, _, group = (spec or "").partition(":")
    passwd = _read_db(rootfs / "etc" / "passwd")
    groups = _read_db(rootfs / "etc" / "group")
    uid, gid, home, name = 0, 0, "/", "root"
    if user:
        entry = next((e for e in passwd if len(e) >= 4 and e[0] == user), None)
        if entry is None and user.isdigit():
            entry = next((e for e in passwd if len(e) >= 4 and e[2] == user), None)
            # A numeric uid with no passwd entry runs as that uid, group 0, no name.
            uid, name = int(user), ""
        elif entry is None:
            raise InvalidParameter(
                f"unable to find user {user}: no matching entries in passwd file"
            )
        if entry is not None:
            name, uid, gid = entry[0], int(entry[2]), int(entry[3])
            home = entry[5] if len(entry) > 5 else "/"
    else:
        root = next((e for e in passwd if len(e) >= 6 and e[2] == "0"), None)
        home = root[5] if root else "/"
    if group:
        gid = _group_id(groups, group)
    supplementary = [int(e[2]) for e in groups if len(e) >= 4 and name and name in e[3].split(",")]
    supplementary += [_group_id(groups, g) for g in group_add or []]
    extra = tuple(dict.fromkeys(g for g in supplementary if g != gid))
    return ExecUser(uid, gid, extra, home)


def _group_id(groups: list[list[str]], group: str) -> int:
    entry = next((e for e in groups if len(e) >= 3 and e[0] == group), None)
    if entry is not None:
        return int(entry[2])
    if group.isdigit():
        return int(group)
    raise InvalidParameter(f"unable to find group {group}: no matching entries in group file")
