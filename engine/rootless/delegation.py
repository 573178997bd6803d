"""A cgroup v2 subtree delegated to the user: where a rootless engine's containers get their
resource limits.

systemd hands a user service with ``Delegate=yes`` (rootless Docker's ``docker.service`` has
it) a cgroup that the user owns, with controllers it may pass on (memory and pids by default;
cpu, cpuset and io where the administrator enables them). An engine started there moves every
process of that cgroup into a leaf (``engine``), since cgroup v2 lets a cgroup either hold
processes or hand controllers down, enables the controllers for its children, and has crun
create each container's cgroup beside the leaf. Anywhere else (a login session's scope, a
cgroup v1 host) the user owns no cgroup: containers run without one, and limits are
discarded with dockerd's warnings (``limits``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
LEAF = "engine"
#: The controllers container limits use, in the order they are enabled.
CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids")
_WRITABLE = ("", "cgroup.procs", "cgroup.subtree_control")


@dataclass(frozen=True)
class Delegation:
    path: str  # the delegated cgroup, as /proc/self/cgroup names it
    controllers: frozenset[str]  # what it may enable for its children


def own_cgroup(text: str) -> str | None:
    """The cgroup v2 path in a ``/proc/<pid>/cgroup`` text (pure); None on a v1-only host."""
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:] or "/"
    return None


def delegated_path(path: str) -> str:
    """The delegated cgroup for an engine in ``path``: its parent when ``path`` is the leaf an
    earlier engine made (pure)."""
    parent, _, name = path.rpartition("/")
    return (parent or "/") if name == LEAF else path


def find_delegation(
    cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP
) -> Delegation | None:
    """The cgroup this engine may manage, if the host is cgroup v2 only and the engine's own
    cgroup is the user's, with controllers to give."""
    if not (cgroup_root / "cgroup.controllers").exists():
        return None  # cgroup v1 or hybrid: v2 holds no controllers here
    try:
        path = own_cgroup(proc_cgroup.read_text())
    except OSError:
        return None
    if path is None or path == "/":
        return None
    path = delegated_path(path)
    directory = cgroup_root / path.lstrip("/")
    if not all(os.access(directory / name, os.W_OK) for name in _WRITABLE):
        return None
    try:
        available = set((directory / "cgroup.controllers").read_text().split())
    except OSError:
        return None
    controllers = frozenset(available.intersection(CONTROLLERS))
    return Delegation(path, controllers) if controllers else None


def adopt(delegation: Delegation, cgroup_root: Path = CGROUP_ROOT) -> frozenset[str]:
    """Move the delegated cgroup's processes (this engine, its outer process, slirp4netns)
    into the leaf and enable the controllers for the containers; returns those enabled."""
    directory = cgroup_root / delegation.path.lstrip("/")
    leaf = directory / LEAF
    leaf.mkdir(exist_ok=True)
    for pid in (directory / "cgroup.procs").read_text().split():
        # One that exited meanwhile is no obstacle.
        with contextlib.suppress(ProcessLookupError):
            (leaf / "cgroup.procs").write_text(pid)
    enabled = set()
    for controller in CONTROLLERS:
        if controller not in delegation.controllers:
            continue
        try:
            (directory / "cgroup.subtree_control").write_text(f"+{controller}")
        except OSError:
            continue  # e.g. cpuset where the parent withholds it: the others still work
        enabled.add(controller)
    return frozenset(enabled)
