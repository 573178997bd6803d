"""ID mappings: which host IDs a container's user namespace gives its users and groups.

As moby's ``user.IdentityMapping``: a list of ranges for UIDs and one for GIDs, each range
mapping ``size`` IDs from ``container_id`` on to ``host_id`` on. The container's root is
whatever host ID container ID 0 maps to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import InvalidParameter


@dataclass(frozen=True)
class IdMap:
    """One line of /proc/PID/uid_map: ``size`` IDs from ``container_id`` → ``host_id``."""

    container_id: int
    host_id: int
    size: int

    def to_oci(self) -> dict[str, int]:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


def _to_host(maps: Sequence[IdMap], container_id: int) -> int | None:
    for entry in maps:
        if entry.container_id <= container_id < entry.container_id + entry.size:
            return entry.host_id + container_id - entry.container_id
    return None


def _to_container(maps: Sequence[IdMap], host_id: int) -> int | None:
    for entry in maps:
        if entry.host_id <= host_id < entry.host_id + entry.size:
            return entry.container_id + host_id - entry.host_id
    return None


@dataclass(frozen=True)
class IdentityMapping:
    uids: tuple[IdMap, ...]
    gids: tuple[IdMap, ...]

    @property
    def root_pair(self) -> tuple[int, int]:
        """The host UID and GID of the container's root (moby's ``RootPair``)."""
        uid, gid = _to_host(self.uids, 0), _to_host(self.gids, 0)
        if uid is None or gid is None:
            raise InvalidParameter("user namespace mapping does not map the root user")
        return uid, gid

    @property
    def size(self) -> int:
        """How many container UIDs exist at all (the smaller of the two totals)."""
        return min(sum(m.size for m in self.uids), sum(m.size for m in self.gids))

    def to_host(self, uid: int, gid: int) -> tuple[int, int]:
        """Container IDs as host IDs; an ID outside the mapping is an error, as in moby."""
        host_uid, host_gid = _to_host(self.uids, uid), _to_host(self.gids, gid)
        if host_uid is None or host_gid is None:
            raise InvalidParameter(f"container ID {uid}:{gid} cannot be mapped to a host ID")
        return host_uid, host_gid

    def to_container(self, uid: int, gid: int) -> tuple[int, int]:
        """Host IDs as the container sees them; unmapped ones show as the overflow IDs
        (65534), as the kernel shows them inside the namespace."""
        container_uid, container_gid = _to_container(self.uids, uid), _to_container(self.gids, gid)
        return (
            OVERFLOW_ID if container_uid is None else container_uid,
            OVERFLOW_ID if container_gid is None else container_gid,
        )

    def oci(self) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
        """``linux.uidMappings`` and ``linux.gidMappings`` of an OCI spec."""
        return [m.to_oci() for m in self.uids], [m.to_oci() for m in self.gids]

    @classmethod
    def from_proc(cls, uid_map: str, gid_map: str) -> IdentityMapping | None:
        """The mapping /proc/PID/uid_map and gid_map show; None for the host's own (identity)
        mapping, which a process outside any user namespace has."""
        uids, gids = parse_proc_map(uid_map), parse_proc_map(gid_map)
        if not uids or not gids or all(m.container_id == m.host_id for m in (*uids, *gids)):
            return None
        return cls(uids, gids)

    @staticmethod
    def proc_text(maps: Sequence[IdMap]) -> str:
        """The text written to /proc/PID/uid_map or gid_map."""
        return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)


def parse_proc_map(text: str) -> tuple[IdMap, ...]:
    """The lines of a /proc/PID/uid_map or gid_map (``inside outside count``)."""
    maps = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            maps.append(IdMap(int(fields[0]), int(fields[1]), int(fields[2])))
    return tuple(maps)


#: The kernel's overflowuid/overflowgid: what an unmapped ID looks like inside a namespace.
OVERFLOW_ID = 65534
