"""The user namespace of a running container's process, as the kernel reports it."""

from __future__ import annotations

import re
from pathlib import Path

from engine.userns.idmap import IdentityMapping

_PROC_ROOT = re.compile(r"/proc/(?P<pid>[0-9]+)/root")


def process_mapping(pid: int) -> IdentityMapping | None:
    """The mapping of process ``pid``'s user namespace; None outside one (or once it is gone)."""
    try:
        uid_map = Path(f"/proc/{pid}/uid_map").read_text()
        gid_map = Path(f"/proc/{pid}/gid_map").read_text()
    except OSError:
        return None
    return IdentityMapping.from_proc(uid_map, gid_map)


def root_mapping(root: Path) -> IdentityMapping | None:
    """The mapping whose host IDs the files under ``root`` show: a running container's root is
    reached as /proc/PID/root, where everything (its idmapped root, its volumes and binds)
    shows host IDs; any other root (a stopped container's, mounted plainly) container IDs."""
    match = _PROC_ROOT.fullmatch(str(root))
    return process_mapping(int(match["pid"])) if match else None
