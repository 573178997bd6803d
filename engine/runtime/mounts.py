"""mount(2) and umount2(2) for container root filesystems, without spawning mount(8).

Root filesystems are the kernel's overlayfs, or, where a rootless engine's kernel cannot mount
overlayfs in a user namespace (before Linux 5.11) or ``--storage-driver fuse-overlayfs`` says so,
fuse-overlayfs: same layers, same upper directory, a FUSE daemon per mount that exits when it is
unmounted. The choice is made once at engine start (``use_fuse_overlayfs``).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import SystemError_, Unavailable
from engine.rootless.overlay_marks import overlay_mount_options

# The C library the interpreter runs on already (dlopen(NULL)): ctypes.util.find_library would
# run ldconfig at every engine start to name it.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

log = logging.getLogger(__name__)

MNT_DETACH = 2
MS_BIND = 4096
PAGE_LIMIT = 4095  # mount data must fit one page
OVERLAYFS = "overlayfs"
FUSE_OVERLAYFS = "fuse-overlayfs"
FUSE_MOUNT_TIMEOUT = 30

# The fuse-overlayfs binary when the engine mounts with it; None: the kernel's overlayfs.
_fuse_program: str | None = None


def use_fuse_overlayfs(program: str | None) -> None:
    """Mount root filesystems with fuse-overlayfs at ``program`` from now on (None: the
    kernel's overlayfs); called once, at engine start."""
    global _fuse_program
    _fuse_program = program


def fuse_overlayfs_program(
    wanted: str, rootless: bool, found: str | None, kernel_mounts: Callable[[], bool]
) -> str | None:
    """The fuse-overlayfs to mount with (``found`` on the PATH), or None for the kernel's
    overlayfs: what ``--storage-driver`` asks for, else the kernel's unless a rootless engine's
    ``kernel_mounts`` probe fails."""
    if wanted == FUSE_OVERLAYFS:
        if found is None:
            raise Unavailable(
                "error initializing graphdriver: fuse-overlayfs not found in PATH (apt-get "
                "install fuse-overlayfs)"
            )
        return found
    if wanted or not rootless or kernel_mounts():
        return None
    if found is None:
        raise Unavailable(
            "overlayfs cannot be mounted in this user namespace (Linux 5.11 and later can): "
            "install fuse-overlayfs (apt-get install fuse-overlayfs)"
        )
    log.warning("overlayfs cannot be mounted in the user namespace: using fuse-overlayfs")
    return found


def storage_driver() -> str:
    """The storage driver's name, as ``docker info`` and inspect show it."""
    return FUSE_OVERLAYFS if _fuse_program else OVERLAYFS


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
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if _fuse_program is None:
        mount("overlay", target, "overlay", 0, options + overlay_mount_options())
    else:
        _mount_fuse(_fuse_program, options, target)


def overlay_mountable(scratch: Path) -> bool:
    """Whether the kernel's overlayfs mounts here: a rootless engine's probe at start (a
    kernel before 5.11 refuses it in a user namespace)."""
    probe = Path(tempfile.mkdtemp(prefix="overlay-probe-", dir=scratch))
    try:
        lower, upper, work, merged = (probe / n for n in ("lower", "upper", "work", "merged"))
        for directory in (lower, upper, work, merged):
            directory.mkdir()
        options = f"lowerdir={lower},upperdir={upper},workdir={work}{overlay_mount_options()}"
        try:
            mount("overlay", merged, "overlay", 0, options)
        except SystemError_:
            return False
        unmount(merged)
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _mount_fuse(program: str, options: str, target: Path) -> None:
    """fuse-overlayfs forks its daemon once the file system is mounted, then exits."""
    try:
        done = subprocess.run(
            [program, "-o", options, str(target)],
            capture_output=True,
            timeout=FUSE_MOUNT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemError_(f"fuse-overlayfs on {target}: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise SystemError_(f"fuse-overlayfs on {target}: {why or done.returncode}")
