"""The ``mounts`` of a container's OCI spec, assembled the way dockerd's ``withMounts`` does.

Docker's default mounts (/proc, /dev, /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm)
come first, minus any the user mounts over; then the user's mounts (volumes, binds, tmpfs,
/etc/hosts …) sorted by depth so a parent is mounted before its children.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidParameter


@dataclass(frozen=True)
class Mount:
    """One OCI mount. ``options`` as the runtime takes them (``rbind``, ``ro``, ``size=64m`` …)."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
        }
        if self.options:
            out["options"] = list(self.options)
        return out


DEFAULT_MOUNTS: tuple[Mount, ...] = (
    Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
    Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
    Mount(
        "/dev/pts",
        "devpts",
        "devpts",
        ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
    ),
    Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
    Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("ro", "nosuid", "noexec", "nodev")),
    Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
    Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777")),
)

# Default mounts a read-only rootfs leaves writable.
_KEEP_WRITABLE = frozenset({"/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"})

# Mount flags tmpfs options may carry, each with the kernel flag it sets or clears (the key
# that makes "exec" override "noexec"); every propagation mode shares one key.
_FLAG_KEYS = {
    "ro": "rdonly",
    "rw": "rdonly",
    "suid": "nosuid",
    "nosuid": "nosuid",
    "dev": "nodev",
    "nodev": "nodev",
    "exec": "noexec",
    "noexec": "noexec",
    "sync": "sync",
    "async": "sync",
    "dirsync": "dirsync",
    "remount": "remount",
    "mand": "mand",
    "nomand": "mand",
    "atime": "noatime",
    "noatime": "noatime",
    "diratime": "nodiratime",
    "nodiratime": "nodiratime",
    "relatime": "relatime",
    "norelatime": "relatime",
    "strictatime": "strictatime",
    "nostrictatime": "strictatime",
}
_PROPAGATION = frozenset(
    {"bind", "rbind", "unbindable", "runbindable"}
    | {"private", "rprivate", "shared", "rshared", "slave", "rslave"}
)
_TMPFS_DATA = frozenset({"", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def merge_tmpfs_options(options: Iterable[str]) -> list[str]:
    """Drop duplicate and overridden options; a later option wins (moby's MergeTmpfsOptions)."""
    merged: list[str] = []
    seen: set[str] = set()
    for option in reversed(list(options)):
        if option == "defaults":
            continue
        if option in _PROPAGATION:
            key = "propagation"
        elif option in _FLAG_KEYS:
            key = _FLAG_KEYS[option]
        else:
            name, sep, _ = option.partition("=")
            if not sep or name not in _TMPFS_DATA:
                raise InvalidParameter(f'invalid tmpfs option "{name}"')
            key = "data:" + name
        if key not in seen:
            seen.add(key)
            merged.insert(0, option)
    return merged


def tmpfs_mount(destination: str, data: str) -> Mount:
    """The mount for ``--tmpfs destination:data`` (Docker adds noexec,nosuid,nodev)."""
    options = ["noexec", "nosuid", "nodev", "rprivate"]
    if data:
        options += data.split(",")
    return Mount(destination, "tmpfs", "tmpfs", tuple(merge_tmpfs_options(options)))


def _depth(destination: str) -> int:
    return len([part for part in destination.split("/") if part]) + 1


def sort_mounts(mounts: Iterable[Mount]) -> list[Mount]:
    """Sort by path depth, keeping the given order among equals, so parents come first."""
    return sorted(mounts, key=lambda m: _depth(m.destination))


def _without_ro(options: Sequence[str]) -> tuple[str, ...]:
    return tuple(o for o in options if o != "ro")


def assemble_mounts(
    *,
    user_mounts: Sequence[Mount],
    tmpfs: Mapping[str, str],
    extra_defaults: Sequence[Mount] = (),
    shm_size: int,
    ipc_none: bool = False,
    readonly_rootfs: bool = False,
    privileged: bool = False,
    userns: bool = False,
) -> list[dict[str, Any]]:
    """The final ``mounts`` list of the spec.

    ``extra_defaults`` (the --init binary) count as defaults: a user mount at the same
    destination replaces them too. ``userns``: the container has its own user namespace.
    """
    users = sort_mounts([*user_mounts, *(tmpfs_mount(d, o) for d, o in tmpfs.items())])
    user_destinations = {m.destination for m in users}
    mount_dev = "/dev" in user_destinations

    result: list[Mount] = []
    for mount in (*DEFAULT_MOUNTS, *extra_defaults):
        if mount.destination in user_destinations:
            continue
        if mount_dev and mount.destination.startswith("/dev/"):
            continue
        options = mount.options
        if mount.destination == "/dev/shm":
            if ipc_none:
                continue
            options = (*options, f"size={shm_size}")
        if readonly_rootfs and mount.destination not in _KEEP_WRITABLE and "ro" not in options:
            options = (*options, "ro")
        # Privileged containers get a writable /sys and, as dockerd's writable-cgroups
        # default follows --privileged, a writable cgroup tree.
        if privileged and (mount.destination == "/sys" or mount.type == "cgroup"):
            options = _without_ro(options)
        # dockerd leaves the cgroup tree writable in a user namespace, where it could not be
        # remounted read-only; the cgroup namespace still confines it.
        if userns and mount.type == "cgroup":
            options = _without_ro(options)
        result.append(Mount(mount.destination, mount.type, mount.source, options))
    result.extend(users)
    return [m.to_oci() for m in result]
