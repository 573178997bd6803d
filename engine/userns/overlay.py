"""A remapped container's root: overlayfs over idmapped layers.

Every layer (the image's lower directories, and the container's directory holding ``upper``
and ``work``) is cloned as a detached mount and idmapped through the remapping's user
namespace. Files stored with container IDs then show with host IDs (root as the remapped
root), which the container's user namespace shows as container IDs again; what the container
writes is stored with container IDs.

The layers reach overlayfs by descriptor (``lowerdir+``/``upperdir``/``workdir`` with
``FSCONFIG_SET_FD``, Linux 6.13). Older kernels (idmapped layers need 5.19) take them as
paths: each clone is attached under the container's directory for the ``mount`` call, then
detached again, since overlayfs keeps private clones of its layers.

overlayfs does its own work in the upper layer (the work directory, copy-ups, whiteouts)
with the credentials of whoever created the mount, and through an idmapped upper layer host
root has no ID to write as (EOVERFLOW). So the mount is created by a thread acting as the
remapped root, capabilities kept; overlayfs keeps those credentials for the mount's life.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.errors import SystemError_
from engine.userns import syscalls

_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
#: Where the fallback attaches the idmapped layers, inside the container's directory.
STAGING = "idmapped"


def _idmapped_tree(path: Path, userns_fd: int) -> int:
    fd = syscalls.open_tree_clone(str(path))
    try:
        syscalls.set_idmap(fd, userns_fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _mount_by_descriptors(
    fds: contextlib.ExitStack,
    lowers: Sequence[int],
    container: int,
    upper: str,
    work: str,
    target: Path,
    root: tuple[int, int],
) -> None:
    # As the remapped root: host root's privilege does not reach into the idmapped container
    # directory, whose group (the remapped root's, for the runtime) has no ID there.
    with syscalls.filesystem_ids(*root):
        upper_fd = os.open(upper, _PATH_DIR, dir_fd=container)
        fds.callback(os.close, upper_fd)
        work_fd = os.open(work, _PATH_DIR, dir_fd=container)
        fds.callback(os.close, work_fd)
        fs_fd = syscalls.fsopen("overlay")
        fds.callback(os.close, fs_fd)
        for fd in lowers:
            syscalls.fsconfig_fd(fs_fd, "lowerdir+", fd)
        syscalls.fsconfig_fd(fs_fd, "upperdir", upper_fd)
        syscalls.fsconfig_fd(fs_fd, "workdir", work_fd)
        syscalls.fsconfig_create(fs_fd)
    mount_fd = syscalls.fsmount(fs_fd)
    fds.callback(os.close, mount_fd)
    syscalls.move_mount(mount_fd, str(target))


def _mount_by_paths(
    lowers: Sequence[int],
    container: int,
    upper: str,
    work: str,
    target: Path,
    root: tuple[int, int],
    staging: Path,
) -> None:
    staging.mkdir(exist_ok=True)
    attached: list[Path] = []
    try:
        for name, fd in [*((str(i), fd) for i, fd in enumerate(lowers)), ("c", container)]:
            point = staging / name
            point.mkdir()
            syscalls.move_mount(fd, str(point))
            attached.append(point)
        lowerdir = ":".join(str(p) for p in attached[:-1])
        data = f"lowerdir={lowerdir},upperdir={attached[-1] / upper},workdir={attached[-1] / work}"
        with syscalls.filesystem_ids(*root):
            syscalls.mount("overlay", str(target), "overlay", data)
    finally:
        for point in attached:
            syscalls.detach(str(point))
        shutil.rmtree(staging, ignore_errors=True)


def mount_idmapped_overlay(
    lowerdirs: Sequence[Path],
    upper: Path,
    work: Path,
    target: Path,
    userns_fd: int,
    root: tuple[int, int],
) -> None:
    """Mount overlayfs at ``target``: ``lowerdirs`` (topmost first) below, ``upper`` (with
    ``work`` beside it, in the same directory) on top, every layer idmapped through
    ``userns_fd``; ``root`` is the remapped root's host UID and GID."""
    if upper.parent != work.parent:
        raise ValueError("upper and work must share a directory")
    for directory in (upper, work, target):
        directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as fds:
        try:
            lowers = [_idmapped_tree(p, userns_fd) for p in lowerdirs]
            for fd in lowers:
                fds.callback(os.close, fd)
            container = _idmapped_tree(upper.parent, userns_fd)
            fds.callback(os.close, container)
            try:
                _mount_by_descriptors(fds, lowers, container, upper.name, work.name, target, root)
            except OSError as exc:
                if not descriptors_refused(exc):
                    raise
                staging = upper.parent / STAGING
                _mount_by_paths(lowers, container, upper.name, work.name, target, root, staging)
        except OSError as exc:
            raise SystemError_(f"mount idmapped overlay on {target}: {exc.strerror}") from exc


def descriptors_refused(exc: OSError) -> bool:
    """Whether ``exc`` is a kernel before 6.13 refusing layers given by descriptor."""
    return exc.errno == errno.EINVAL and str(exc.strerror).startswith("fsconfig lowerdir+")
