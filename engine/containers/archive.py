"""``docker cp``: a path inside a container stat'ed (HEAD), archived (GET) and extracted into (PUT)
the way dockerd does it in ``daemon/archive*.go``.

A path is looked up as the container would look it up: symlinks are followed inside its root
(``resolve_in_root``), the last component only when the path ends in ``/`` or ``/.``, as lstat
does. Then every directory is opened from a descriptor of the root with ``O_NOFOLLOW``, so a
symlink that a running container swaps in meanwhile makes the copy fail instead of reaching the
host's files (the race of CVE-2018-15664).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple

from engine.containers.copy_in import KERNEL_DIRS, extract, open_dir_beneath
from engine.containers.filesystem import mounted_rootfs
from engine.containers.lifecycle import Lifecycle
from engine.containers.model import ContainerRecord
from engine.containers.rootpath import resolve_in_root
from engine.containers.state import is_running
from engine.errors import InvalidParameter, NotFound
from engine.images.service import ImageService
from engine.timefmt import rfc3339_nano
from engine.userns.idmap import IdentityMapping
from engine.userns.process import root_mapping
from engine.userns.syscalls import filesystem_ids

if TYPE_CHECKING:
    from _typeshed import SupportsRead

# Go's os.FileMode type bits, which ContainerPathStat's "mode" carries instead of st_mode's.
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20

_TYPE_BITS = {
    stat.S_IFDIR: MODE_DIR,
    stat.S_IFLNK: MODE_SYMLINK,
    stat.S_IFBLK: MODE_DEVICE,
    stat.S_IFCHR: MODE_DEVICE | MODE_CHAR_DEVICE,
    stat.S_IFIFO: MODE_NAMED_PIPE,
    stat.S_IFSOCK: MODE_SOCKET,
}
_SPECIAL_BITS = ((stat.S_ISUID, MODE_SETUID), (stat.S_ISGID, MODE_SETGID),
                 (stat.S_ISVTX, MODE_STICKY))  # fmt: skip
_CHUNK = 1 << 20  # tar stream writes: fewer, larger hand-overs to the event loop
_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathNotFound(NotFound):
    """The path does not exist in the container; ``container_root`` names the container."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Could not find the file {path}")
        self.path = path


def go_file_mode(st_mode: int) -> int:
    """``st_mode`` as Go's os.FileMode, as it goes into the JSON of the stat header."""
    mode = (st_mode & 0o777) | _TYPE_BITS.get(stat.S_IFMT(st_mode), 0)
    for unix_bit, go_bit in _SPECIAL_BITS:
        if st_mode & unix_bit:
            mode |= go_bit
    return mode


def go_base(path: str) -> str:
    """Go's filepath.Base: trailing slashes ignored, "/" for the root, "." for nothing."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rpartition("/")[2]


def clean_path(path: str) -> str:
    """dockerd's ``PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)``: absolute and
    clean, but still ending in ``/.`` or ``/`` if ``path`` did, which changes what is copied."""
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    if go_base(cleaned) != "." and go_base(path) == ".":
        cleaned = cleaned.rstrip("/") + "/."
    if path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def _names_directory(path: str) -> bool:
    """Whether lstat follows the last component: after a trailing ``/``, or for ``.``."""
    return path.endswith("/") or go_base(path) in (".", "..")


def _locate(root: Path, path: str, follow: bool) -> tuple[tuple[str, ...], str | None]:
    """Where lstat(``path``) looks inside the container: (directory below the root, name), or
    ((), None) for the root itself. The last component is followed if ``follow``."""
    stripped = path.rstrip("/")
    if follow:
        parts = resolve_in_root(root, path).relative_to(root).parts
    else:
        head, _, last = stripped.rpartition("/")
        parts = (*resolve_in_root(root, head).relative_to(root).parts, last)
    return (parts[:-1], parts[-1]) if parts else ((), None)


class _Located(NamedTuple):
    dir_fd: int  # the directory holding the path
    name: str | None  # its name there; None for the root itself
    info: os.stat_result  # its lstat
    parts: tuple[str, ...]  # its components below the root


@contextlib.contextmanager
def _opened(root: Path, path: str, *, follow: bool = False) -> Iterator[_Located]:
    """The path found as lstat would find it (as stat if ``follow``), its directory open."""
    follow = follow or _names_directory(path)
    root_fd = os.open(root, _ROOT_FLAGS)
    try:
        directory, name = _locate(root, path, follow)
        dir_fd = open_dir_beneath(root_fd, directory)
    except (FileNotFoundError, NotADirectoryError):
        raise PathNotFound(path) from None
    finally:
        os.close(root_fd)
    try:
        try:
            info = os.fstat(dir_fd) if name is None else os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            raise PathNotFound(path) from None
        if _names_directory(path) and not stat.S_ISDIR(info.st_mode):
            raise PathNotFound(path)  # lstat("file/") fails with ENOTDIR
        yield _Located(dir_fd, name, info, directory if name is None else (*directory, name))
    finally:
        os.close(dir_fd)


def stat_path(root: Path, path: str) -> dict[str, Any]:
    """Docker's ContainerPathStat of ``path``; a symlink's target fully resolved in scope."""
    with _opened(root, path) as found:
        info = found.info
        link_target = ""
        if stat.S_ISLNK(info.st_mode):
            link_target = "/" + resolve_in_root(root, path).relative_to(root).as_posix()
        return {
            "name": go_base(path),
            "size": info.st_size,
            "mode": go_file_mode(info.st_mode),
            "mtime": rfc3339_nano(ns=info.st_mtime_ns),
            "linkTarget": link_target,
        }


class _ContainerTar(tarfile.TarFile):
    """A tar whose entries carry the owners the container sees: a running container in a user
    namespace shows the host its files with host IDs, which dockerd maps back (its IDMap)."""

    mapping: IdentityMapping | None = None

    def addfile(self, tarinfo: tarfile.TarInfo, fileobj: SupportsRead[bytes] | None = None) -> None:
        if self.mapping is not None:
            tarinfo.uid, tarinfo.gid = self.mapping.to_container(tarinfo.uid, tarinfo.gid)
        super().addfile(tarinfo, fileobj)


def export_path(root: Path, path: str, out: IO[bytes]) -> None:
    """A tar of ``path`` as dockerd's TarResourceRebase writes it: a directory's entries are
    named after its base name (``etc/…``), or ``./…`` for a path ending in ``/.``; anything else
    is one entry named after its base name. Symlinks inside are entries, never followed."""
    path = clean_path(path)
    with (
        _opened(root, path) as (dir_fd, name, info, _),
        _ContainerTar.open(
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_CHUNK
        ) as tar,
    ):
        tar.mapping = root_mapping(root)
        if not stat.S_ISDIR(info.st_mode):
            assert name is not None  # the root is a directory
            _add_entry(tar, dir_fd, name, go_base(path), {})
            return
        top = "" if go_base(path) == "/" else go_base(path)  # "/" becomes "/etc", not "//etc"
        fd = os.dup(dir_fd) if name is None else os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            tar.addfile(_tarinfo(top, os.fstat(fd)))
            where = posixpath.normpath(path).rstrip("/")
            if where.strip("/") not in KERNEL_DIRS:
                _add_tree(tar, fd, top, where)
        finally:
            os.close(fd)


def _add_tree(tar: tarfile.TarFile, top_fd: int, top: str, container_path: str) -> None:
    """Everything below the open directory ``top_fd`` (``container_path`` in the container),
    depth first in name order as Go walks. The kernel's /proc and /sys of a running container
    are entries without their contents, as in the container's root filesystem on disk."""
    seen: dict[tuple[int, int], str] = {}
    stack = [(top_fd, top, container_path, iter(sorted(os.listdir(top_fd))))]
    try:
        while stack:
            dir_fd, prefix, where, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                if dir_fd != top_fd:
                    os.close(dir_fd)
                continue
            arcname = f"{prefix}/{name}"
            child = _add_entry(tar, dir_fd, name, arcname, seen)
            if child is None:
                continue
            if not where and name in KERNEL_DIRS:
                os.close(child)
                continue
            stack.append((child, arcname, f"{where}/{name}", iter(sorted(os.listdir(child)))))
    finally:
        for dir_fd, _, _, _ in stack:
            if dir_fd != top_fd:
                os.close(dir_fd)


def _add_entry(
    tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str, seen: dict[tuple[int, int], str]
) -> int | None:
    """Add ``name`` (in ``dir_fd``) as ``arcname``; an open descriptor if it is a directory.
    Whatever vanishes or changes type meanwhile is left out."""
    try:
        info = os.lstat(name, dir_fd=dir_fd)
        if stat.S_ISDIR(info.st_mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            tar.addfile(_tarinfo(arcname, os.fstat(fd)))
            return fd
        if stat.S_ISREG(info.st_mode):
            _add_file(tar, dir_fd, name, arcname, seen)
        elif not stat.S_ISSOCK(info.st_mode):  # tar has no sockets
            link = os.readlink(name, dir_fd=dir_fd) if stat.S_ISLNK(info.st_mode) else ""
            tar.addfile(_tarinfo(arcname, info, link))
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as e:
        if e.errno != errno.ELOOP:  # swapped for a symlink meanwhile
            raise
    return None


def _add_file(
    tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str, seen: dict[tuple[int, int], str]
) -> None:
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as data:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        entry = _tarinfo(arcname, info)
        if info.st_nlink > 1:
            first = seen.setdefault((info.st_dev, info.st_ino), arcname)
            if first != arcname:  # later names of the file are hardlinks, as Go writes them
                entry.type, entry.linkname, entry.size = tarfile.LNKTYPE, first, 0
                tar.addfile(entry)
                return
        tar.addfile(entry, data)


def _tarinfo(arcname: str, info: os.stat_result, link: str = "") -> tarfile.TarInfo:
    entry = tarfile.TarInfo(arcname)
    entry.mode = info.st_mode & 0o7777
    entry.uid, entry.gid = info.st_uid, info.st_gid
    entry.mtime = int(info.st_mtime)  # whole seconds, as dockerd writes them
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFREG:
        entry.size = info.st_size
    elif kind == stat.S_IFDIR:
        entry.type = tarfile.DIRTYPE
    elif kind == stat.S_IFLNK:
        entry.type, entry.linkname = tarfile.SYMTYPE, link
    elif kind == stat.S_IFIFO:
        entry.type = tarfile.FIFOTYPE
    else:
        entry.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
        entry.devmajor, entry.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
    return entry


def extract_to(
    root: Path,
    path: str,
    stream: BinaryIO,
    no_overwrite_dir_non_dir: bool,
    copy_uid_gid: bool,
    *,
    read_only_root: bool = False,
) -> None:
    """Extract the tar in ``stream`` into the existing directory ``path`` (symlinks followed in
    scope, the last one too, so that a link to a directory works as in dockerd)."""
    with _opened(root, path.rstrip("/") or "/", follow=True) as (dir_fd, name, info, dest):
        if dest and dest[0] in KERNEL_DIRS:
            raise InvalidParameter(f"cannot copy to {path}: a kernel filesystem of the container")
        if not stat.S_ISDIR(info.st_mode):
            raise InvalidParameter("extraction point is not a directory")
        if read_only_root:
            raise InvalidParameter("container rootfs is marked read-only")
        dest_fd = os.dup(dir_fd) if name is None else os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    # In a running container with a user namespace, files are made as its root and owners
    # given in host IDs, as dockerd's ChownOpts and IDMap do; its root filesystem has no
    # owner for host root's files (the write would fail with EOVERFLOW).
    mapping = root_mapping(root)
    acting = filesystem_ids(*mapping.root_pair) if mapping else contextlib.nullcontext()
    try:
        with acting:
            extract(
                dest_fd,
                dest,
                stream,
                no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
                copy_uid_gid=copy_uid_gid,
                to_host=mapping.to_host if mapping else None,
            )
    finally:
        os.close(dest_fd)


@contextlib.asynccontextmanager
async def container_root(
    lifecycle: Lifecycle, images: ImageService, record: ContainerRecord, ref: str, path: str
) -> AsyncIterator[Path]:
    """The container's root directory for one copy, with dockerd's "Could not find the file"
    naming the container as the client did (``ref``) and the path as it was asked (``path``).

    A stopped container's root is mounted for the copy, under the container's lock so that a
    start does not race the mount; a running one is not locked, so its exit is not delayed.
    """
    lock = lifecycle.lock(record.id)
    async with contextlib.AsyncExitStack() as stack:
        pid = record.state.pid
        if is_running(record.state.status) and pid and os.path.isdir(f"/proc/{pid}/root"):
            # The root as the container sees it: its volumes, binds and /etc files included.
            root = Path(f"/proc/{pid}/root")
        else:
            if not is_running(record.state.status):
                await stack.enter_async_context(lock)
            mount = mounted_rootfs(lifecycle, images, record)
            root = await asyncio.to_thread(mount.__enter__)
            stack.push_async_callback(asyncio.to_thread, mount.__exit__, None, None, None)
        try:
            yield root
        except PathNotFound:
            raise NotFound(f"Could not find the file {path} in container {ref}") from None
