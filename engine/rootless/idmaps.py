"""The rootless engine's ID mapping: the user's own UID as root, their subordinate ranges as
1…N, written by the setuid helpers ``newuidmap``/``newgidmap`` (an unprivileged process may
map only its own ID itself)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import InvalidParameter
from engine.userns.idmap import IdentityMapping, IdMap
from engine.userns.subids import SubIdRange, id_maps, ranges_of


@dataclass(frozen=True)
class RootlessMaps:
    """The user's mapping, and whose it is (for messages)."""

    user: str
    mapping: IdentityMapping


def own_and_subordinate(own_id: int, ranges: Sequence[SubIdRange]) -> tuple[IdMap, ...]:
    """``own_id`` as 0, then each range in file order from 1 on (pure)."""
    return (IdMap(0, own_id, 1), *id_maps(ranges, first=1))


def rootless_maps(
    user: str,
    uid: int,
    gid: int,
    uid_ranges: Sequence[SubIdRange],
    gid_ranges: Sequence[SubIdRange],
) -> RootlessMaps:
    """The mapping of ``user`` (UID ``uid``, primary GID ``gid``); refuses a user without
    ranges in both files, since a namespace of one ID cannot hold an image's users."""
    subuids = ranges_of(uid_ranges, user, uid)
    subgids = ranges_of(gid_ranges, user, uid)
    for found, path in ((subuids, "/etc/subuid"), (subgids, "/etc/subgid")):
        if not found:
            raise InvalidParameter(
                f"no subordinate ID range for user {user!r} in {path}: "
                "run 'doca setup rootless' to see how to add one"
            )
    return RootlessMaps(
        user, IdentityMapping(own_and_subordinate(uid, subuids), own_and_subordinate(gid, subgids))
    )


def helper_argv(helper: str, pid: int, maps: Sequence[IdMap]) -> list[str]:
    """``newuidmap PID inside outside count …`` (or newgidmap) for the child ``pid`` (pure)."""
    argv = [helper, str(pid)]
    for entry in maps:
        argv += [str(entry.container_id), str(entry.host_id), str(entry.size)]
    return argv
