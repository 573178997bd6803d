"""Which IDs this process's user namespace maps: a rootless engine has its user's subordinate
range only, and a layer may own files by IDs beyond it."""

from __future__ import annotations

from pathlib import Path


def _ranges(path: str) -> list[tuple[int, int]]:
    ranges = []
    try:
        text = Path(path).read_text()
    except OSError:
        return [(0, 1 << 32)]
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].isdigit() and fields[2].isdigit():
            ranges.append((int(fields[0]), int(fields[2])))
    return ranges


def is_mapped(uid: int, gid: int) -> bool:
    """Whether both IDs exist in this process's user namespace."""
    return any(s <= uid < s + n for s, n in _ranges("/proc/self/uid_map")) and any(
        s <= gid < s + n for s, n in _ranges("/proc/self/gid_map")
    )


def insufficient_ids(uid: int, gid: int, name: str) -> str:
    """rootless dockerd's words for a layer file owned by an unmapped ID (pure)."""
    return (
        f"potentially insufficient UIDs or GIDs available in user namespace (requested "
        f"{uid}:{gid} for {name}): Check /etc/subuid and /etc/subgid: lchown {name}: "
        "invalid argument"
    )
