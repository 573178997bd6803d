"""/etc/subuid and /etc/subgid: the subordinate ID ranges each user may map (subuid(5)).

Read as moby's ``user.ParseSubIDFilter`` and ``usergroup.LoadIdentityMapping`` read them: lines
``name:start:count``, the name a user name or a numeric UID; every range of the user, in file
order, becomes one line of the mapping, container IDs counting on from 0 across them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.userns.idmap import IdMap

SUBUID_FILE = "/etc/subuid"
SUBGID_FILE = "/etc/subgid"
#: What dockerd gives the ``dockremap`` user, and the first host ID it considers.
DEFAULT_RANGE_LENGTH = 65536
DEFAULT_RANGE_START = 100000


@dataclass(frozen=True)
class SubIdRange:
    name: str
    start: int
    count: int


def parse_subids(text: str) -> list[SubIdRange]:
    """Every usable range in the file's text; blank, comment and malformed lines are
    skipped (shadow's tools skip them too), as are empty ranges."""
    ranges = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 3 or not parts[0]:
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if start < 0 or count <= 0:
            continue
        ranges.append(SubIdRange(parts[0], start, count))
    return ranges


def ranges_of(ranges: Iterable[SubIdRange], name: str, uid: int) -> list[SubIdRange]:
    """The ranges of the user ``name`` whose UID is ``uid``: lines may name either."""
    keys = {name, str(uid)}
    return [r for r in ranges if r.name in keys]


def id_maps(ranges: Sequence[SubIdRange], first: int = 0) -> tuple[IdMap, ...]:
    """The mapping that the ranges make: container IDs ``first``, ``first`` + 1, … laid over
    them in order."""
    maps = []
    container_id = first
    for entry in ranges:
        maps.append(IdMap(container_id, entry.start, entry.count))
        container_id += entry.count
    return tuple(maps)


def next_range_start(
    ranges: Iterable[SubIdRange],
    length: int = DEFAULT_RANGE_LENGTH,
    start: int = DEFAULT_RANGE_START,
) -> int:
    """Where a new range of ``length`` IDs can go without overlapping an existing one: as
    moby's ``findNextRangeStart``, the ranges walked by start, each overlap skipped past (a
    range lying wholly inside the candidate counts as overlapping too)."""
    candidate = start
    for entry in sorted(ranges, key=lambda r: r.start):
        end = entry.start + entry.count
        if candidate < end and entry.start < candidate + length:
            candidate = end
    return candidate
