"""mount(2) and umount2(2) for container root filesystems, without spawning mount(8)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

from engine.errors import SystemError_
from engine.rootless.overlay_marks import overlay_mount_options

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MNT_DETACH = 2
MS_BIND = 4096
PAGE_LIMIT = 4095  # mount data must fit one page


def mount(source: str, target: Path, fstype: str, flags: int = 0, data: str = "") -> None:
    if len(data.encode()) > PAGE_LIMIT:
        raise SystemError_(f"mount options for {target} are longer than a page")
    result = _libc.mount(
        source.encode(), str(target).encode(), fstype.encode(), flags, data.encode() or None
    )
    if result != 0:
        err = ctypes.get_errno()
        raise SystemError_(f"mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: Path, lazy: bool = False) -> None:
    """Unmount ``target``; one that is not mounted is not an error."""
    result = _libc.umount2(str(target).encode(), MNT_DETACH if lazy else 0)
    if result != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        raise SystemError_(f"unmount {target}: {os.strerror(err)}")


def is_mountpoint(path: Path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def mount_overlay(lowerdirs: list[Path], upper: Path, work: Path, target: Path) -> None:
    """The container's root: image layers read-only below, its own changes in ``upper``."""
    for directory in (upper, work, target):
        directory.mkdir(parents=True, exist_ok=True)
    if is_mountpoint(target):
        return
    lower = ":".join(str(p) for p in lowerdirs)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}{overlay_mount_options()}"
    mount("overlay", target, "overlay", 0, options)
