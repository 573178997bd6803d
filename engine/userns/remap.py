"""``--userns-remap``: whose subordinate ID ranges the containers' user namespaces use.

Read as dockerd's ``parseRemappedRoot`` and ``setupRemappedRoot`` read it: ``USER``,
``USER:GROUP``, ``UID`` or ``UID:GID``, names and IDs checked against the account database
(``pwd``/``grp`` go through NSS, as dockerd's fallback to ``getent`` does); ``default`` is the
``dockremap`` user, created with its ranges when it does not exist yet. The mapping comes from
the user's lines in /etc/subuid and /etc/subgid, as ``usergroup.LoadIdentityMapping``.
"""

from __future__ import annotations

import grp
import logging
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from engine.errors import InvalidParameter
from engine.userns.idmap import IdentityMapping
from engine.userns.subids import (
    DEFAULT_RANGE_LENGTH,
    SUBGID_FILE,
    SUBUID_FILE,
    SubIdRange,
    id_maps,
    next_range_start,
    parse_subids,
    ranges_of,
)

log = logging.getLogger(__name__)

DEFAULT_SPECIFIER = "default"
DEFAULT_REMAP_USER = "dockremap"
# strconv.ParseInt(s, 10, 32): an optional sign, decimal digits, a signed 32-bit value.
_NUMBER = re.compile(r"[+-]?[0-9]+")


def _quote(text: str) -> str:
    """Go's %q for the plain names this module quotes."""
    return orjson.dumps(text).decode()


def _number(text: str) -> int | None:
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def _missing(key: str, database: str) -> str:
    # What dockerd's lookup says once its files lookup and then getent have both failed.
    return f"getent unable to find entry {_quote(key)} in {database} database"


def _user_by_uid(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        raise InvalidParameter(
            f"Uid {uid} has no entry in /etc/passwd: {_missing(str(uid), 'passwd')}"
        ) from None


def _group_by_gid(gid: int, wrong_file: bool = False) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        # dockerd names /etc/passwd when the GID came after a colon; its words are kept.
        where = "/etc/passwd" if wrong_file else "/etc/group"
        raise InvalidParameter(
            f"Gid {gid} has no entry in {where}: {_missing(str(gid), 'group')}"
        ) from None


def parse_remapped_root(spec: str, create_user: Callable[[str], None]) -> tuple[str, str]:
    """The user and group names that ``spec`` stands for. ``create_user`` is called for
    ``default`` when ``dockremap`` does not exist yet."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidParameter(
            f"Invalid user/group specification in --userns-remap: {_quote(spec)}"
        )
    username = groupname = ""
    uid = _number(parts[0])
    if uid is not None:
        username = _user_by_uid(uid)
        if len(parts) == 1:
            groupname = _group_by_gid(uid)  # a lone UID is taken as the GID too
    else:
        lookup = DEFAULT_REMAP_USER if parts[0] == DEFAULT_SPECIFIER else parts[0]
        try:
            username = pwd.getpwnam(lookup).pw_name
        except KeyError:
            if parts[0] != DEFAULT_SPECIFIER:
                raise InvalidParameter(
                    f"Error during uid lookup for {_quote(lookup)}: {_missing(lookup, 'passwd')}"
                ) from None
            try:
                create_user(DEFAULT_REMAP_USER)
            except InvalidParameter as exc:
                raise InvalidParameter(
                    f"Error during {_quote(DEFAULT_REMAP_USER)} user creation: {exc.message}"
                ) from exc
            return DEFAULT_REMAP_USER, DEFAULT_REMAP_USER
        if len(parts) == 1:
            try:
                groupname = grp.getgrnam(lookup).gr_name
            except KeyError:
                raise InvalidParameter(
                    f"Error during gid lookup for {_quote(lookup)}: {_missing(lookup, 'group')}"
                ) from None
    if len(parts) == 2:
        gid = _number(parts[1])
        if gid is not None:
            groupname = _group_by_gid(gid, wrong_file=True)
        else:
            try:
                grp.getgrnam(parts[1])
            except KeyError:
                raise InvalidParameter(
                    f"Error during groupname lookup for {_quote(parts[1])}: "
                    f"{_missing(parts[1], 'group')}"
                ) from None
            groupname = parts[1]
    return username, groupname


def mapping_from_ranges(
    uid_ranges: Sequence[SubIdRange], gid_ranges: Sequence[SubIdRange], username: str, uid: int
) -> IdentityMapping:
    """The mapping of ``username`` (UID ``uid``) from all subuid and subgid ranges."""
    uids = ranges_of(uid_ranges, username, uid)
    gids = ranges_of(gid_ranges, username, uid)
    for found in (uids, gids):
        if not found:
            # dockerd says "subuid" for either file.
            raise InvalidParameter(f"no subuid ranges found for user {_quote(username)}")
    return IdentityMapping(id_maps(uids), id_maps(gids))


def _read_ranges(path: str) -> list[SubIdRange]:
    try:
        return parse_subids(Path(path).read_text())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InvalidParameter(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc


def load_identity_mapping(username: str) -> IdentityMapping:
    """The user's ranges in /etc/subuid and /etc/subgid as a mapping."""
    try:
        uid = pwd.getpwnam(username).pw_uid
    except KeyError:
        raise InvalidParameter(
            f"could not get user for username {username}: {_missing(username, 'passwd')}"
        ) from None
    return mapping_from_ranges(_read_ranges(SUBUID_FILE), _read_ranges(SUBGID_FILE), username, uid)


@dataclass(frozen=True)
class Remap:
    """A resolved ``--userns-remap``: ``user:group`` and the mapping of its ranges."""

    user: str
    group: str
    mapping: IdentityMapping

    @property
    def spec(self) -> str:
        return f"{self.user}:{self.group}"


def resolve_remap(spec: str) -> Remap | None:
    """``--userns-remap`` resolved, or None when it asks for no remapping (empty, or root,
    which cannot be remapped to itself). Blocking: reads the account files and may create the
    ``dockremap`` user."""
    if not spec:
        return None
    user, group = parse_remapped_root(spec, add_remap_user)
    if user == "root":
        log.warning("User namespaces: root cannot be remapped with itself; user namespaces are OFF")
        return None
    try:
        mapping = load_identity_mapping(user)
    except InvalidParameter as exc:
        raise InvalidParameter(f"error creating ID mappings: {exc.message}") from exc
    if mapping.size < DEFAULT_RANGE_LENGTH:
        log.warning(
            "User namespaces: %s maps %d IDs; files owned by higher IDs show as nobody",
            user,
            mapping.size,
        )
    return Remap(user, group, mapping)


# -- dockremap -------------------------------------------------------------------------------


def add_user_argv(name: str, adduser: bool) -> list[str]:
    """The command that makes ``name`` a system user with a group of its own, as dockerd
    runs it: Debian's ``adduser`` where there is one, else ``useradd``."""
    if adduser:
        return ["adduser", "--system", "--shell", "/bin/false", "--no-create-home",
                "--disabled-login", "--disabled-password", "--group", name]  # fmt: skip
    return ["useradd", "-r", "-s", "/bin/false", name]


def add_range_argv(name: str, flag: str, start: int) -> list[str]:
    """``usermod -v`` (subuid) or ``-w`` (subgid) giving ``name`` a range from ``start``."""
    return ["usermod", flag, f"{start}-{start + DEFAULT_RANGE_LENGTH - 1}", name]


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidParameter(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise InvalidParameter(
            f"{argv[0]} failed with exit status {done.returncode}; output: {_quote(output)}"
        )


def add_remap_user(name: str) -> None:
    """dockerd's ``AddNamespaceRangesUser``: a system user, then a range of 65536 IDs in
    each of /etc/subuid and /etc/subgid past every range already there (system users get
    none from the distribution's tools)."""
    use_adduser = shutil.which("adduser") is not None
    if not use_adduser and shutil.which("useradd") is None:
        raise InvalidParameter("cannot add user; no useradd/adduser binary found")
    _run(add_user_argv(name, use_adduser))
    for path, flag in ((SUBUID_FILE, "-v"), (SUBGID_FILE, "-w")):
        ranges = _read_ranges(path)
        if not any(r.name == name for r in ranges):
            _run(add_range_argv(name, flag, next_range_start(ranges)))
