"""The Linux calls behind idmapped mounts, through ctypes: the new mount API (``open_tree``,
``mount_setattr``, ``fsopen``, ``fsconfig``, ``fsmount``, ``move_mount``), ``unshare`` and a
thread's filesystem IDs and capabilities.

The new mount API's system call numbers are the same on every architecture (they were added
after the tables were unified), so they are given here rather than looked up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Iterator

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
SYS_MOUNT_SETATTR = 442

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FD = 5
FSCONFIG_CMD_CREATE = 6
CLONE_NEWUSER = 0x10000000
MNT_DETACH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def open_tree_clone(path: str) -> int:
    """A detached copy of the mount of ``path`` (just that directory's tree, not the mounts
    below it), as a descriptor."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
    return _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(), flags), "open_tree")


def set_idmap(tree_fd: int, userns_fd: int) -> None:
    """Make the detached mount ``tree_fd`` show its files through ``userns_fd``'s mapping."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    _check(
        _libc.syscall(
            SYS_MOUNT_SETATTR, tree_fd, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)
        ),
        "mount_setattr",
    )


def fsopen(fstype: str) -> int:
    return _check(_libc.syscall(SYS_FSOPEN, fstype.encode(), FSOPEN_CLOEXEC), "fsopen")


def fsconfig_fd(fs_fd: int, key: str, fd: int) -> None:
    _check(
        _libc.syscall(SYS_FSCONFIG, fs_fd, FSCONFIG_SET_FD, key.encode(), None, fd),
        f"fsconfig {key}",
    )


def fsconfig_create(fs_fd: int) -> None:
    _check(_libc.syscall(SYS_FSCONFIG, fs_fd, FSCONFIG_CMD_CREATE, None, None, 0), "fsconfig")


def fsmount(fs_fd: int) -> int:
    return _check(_libc.syscall(SYS_FSMOUNT, fs_fd, FSMOUNT_CLOEXEC, 0), "fsmount")


def move_mount(mount_fd: int, target: str) -> None:
    """Attach the detached mount ``mount_fd`` at ``target``."""
    _check(
        _libc.syscall(
            SYS_MOVE_MOUNT, mount_fd, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH
        ),
        "move_mount",
    )


def mount(source: str, target: str, fstype: str, data: str) -> None:
    """mount(2), for a filesystem that takes its options as a string."""
    _check(
        _libc.mount(source.encode(), target.encode(), fstype.encode(), 0, data.encode()),
        f"mount {fstype}",
    )


def detach(target: str) -> None:
    """umount2(MNT_DETACH); what is not mounted is left alone."""
    _libc.umount2(target.encode(), MNT_DETACH)


def unshare_user() -> int:
    """unshare(CLONE_NEWUSER); returns the raw result (the caller may be a forked child)."""
    return int(_libc.unshare(CLONE_NEWUSER))


def _raise_effective_capabilities() -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    for half in data:
        half.effective = half.permitted
    _check(_libc.capset(ctypes.byref(header), data), "capset")


@contextlib.contextmanager
def filesystem_ids(uid: int, gid: int) -> Iterator[None]:
    """Run the block with this thread's filesystem UID and GID set to ``uid``/``gid`` and
    its capabilities kept (the kernel drops the file capabilities when the filesystem UID
    leaves 0; they are raised again from the permitted set). Only the calling thread is
    affected: glibc's setfsuid, unlike setuid, is not broadcast to the other threads."""
    old_gid = _libc.setfsgid(gid)
    old_uid = _libc.setfsuid(uid)
    try:
        _raise_effective_capabilities()
        yield
    finally:
        _libc.setfsuid(old_uid)
        _libc.setfsgid(old_gid)
