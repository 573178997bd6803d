"""Placing files, directories, links and nodes below one directory without ever leaving it:
what unpacking a build context, ADD's archives and COPY's trees have in common.

Every entry is written the way moby's ``archive.Unpack`` writes a tar member, as if the
directory were ``/``:

* the entry's parent is resolved inside the directory (``resolve_in_root``: a symlink in the
  way is followed as the container would follow it, never out); missing parents are made 0755;
* what already sits at the entry's name is replaced, unless both are directories, which merge;
  a symlink at that name is replaced too, never followed;
* ownership (when given) comes before the mode, because chown clears setuid bits; directory
  modes and mtimes are set last, since adding children changes them.

The directory itself is reached through a descriptor, and every lookup below it uses
``openat(O_NOFOLLOW)``, so a symlink cannot redirect a write even if one appeared between
resolving a path and using it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

from engine.build.pathmatch import clean
from engine.containers.copy_in import quote
from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter, SystemError_
from engine.rootless.overlay_marks import is_overlay_xattr

CHUNK = 1 << 20
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Filesystems without xattrs, and unprivileged engines, still get the files: dockerd is as lenient.
_IGNORED_XATTR_ERRNOS = frozenset({errno.ENOTSUP, errno.EPERM})

Parts = tuple[str, ...]
Owner = tuple[int, int]


class Kind(Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    FIFO = "fifo"
    CHAR = "char"
    BLOCK = "block"


@dataclass(frozen=True)
class Node:
    """One entry to place: what it is and the metadata it gets."""

    kind: Kind
    mode: int = 0o644  # permission bits, with setuid/setgid/sticky
    mtime_ns: int = 0
    owner: Owner | None = None  # None: whoever the engine is
    linkname: str = ""  # a symlink's target text; a hardlink's target below the root
    rdev: int = 0
    xattrs: Mapping[str, bytes] = field(default_factory=dict)


def open_dir(base_fd: int, parts: Sequence[str], *, create: bool = False,
             owner: Owner | None = None) -> int:  # fmt: skip
    """A descriptor of the directory ``parts`` below ``base_fd``, never following a symlink.

    With ``create``, missing directories are made 0755 and given to ``owner``. A non-directory
    on the way raises NotADirectoryError, a missing directory FileNotFoundError.
    """
    fd = os.dup(base_fd)
    try:
        for part in parts:
            child = _open_child(fd, part, create, owner)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_child(fd: int, name: str, create: bool, owner: Owner | None) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, 0o755, dir_fd=fd)
        except FileExistsError:  # made meanwhile: open what is there
            return _open_child(fd, name, False, None)
        child = os.open(name, DIR_FLAGS, dir_fd=fd)
        os.fchmod(child, 0o755)  # mkdir's mode went through the umask
        if owner is not None:
            os.fchown(child, *owner)
        return child
    except OSError as e:
        # O_DIRECTORY|O_NOFOLLOW fails with ENOTDIR or ELOOP on a symlink: refuse it either way.
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), name) from e


def lstat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class TreeWriter:
    """Writes entries below the directory open as ``root_fd`` (owned by the caller); ``finish``
    or ``close`` it when done."""

    def __init__(self, root_fd: int, *, allow_devices: bool = False) -> None:
        self._fd = root_fd
        # resolve_in_root walks by path; the descriptor's /proc name pins the directory itself.
        self._root = Path(f"/proc/self/fd/{root_fd}")
        self._allow_devices = allow_devices
        self._dirs: dict[Parts, tuple[int, int]] = {}
        # The last parent directory used: entries mostly come a directory at a time, and
        # resolving a parent costs a few syscalls per component. Dropped whenever anything
        # is removed, since only a removal can change what a parent resolves to.
        self._parent: tuple[Parts, Parts, int] | None = None
        self._removed = False

    def __enter__(self) -> TreeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._parent is not None:
            os.close(self._parent[2])
            self._parent = None

    def add(self, name: str, node: Node, data: IO[bytes] | None = None) -> None:
        """Place ``node`` at ``name`` (relative, cleaned, not climbing out); a file's content
        is read from ``data``."""
        parts = tuple(p for p in name.split("/") if p not in ("", "."))
        if not parts:
            return  # the root keeps its own metadata, as with dockerd
        if node.kind in (Kind.CHAR, Kind.BLOCK) and not self._allow_devices:
            return
        try:
            parent, parent_fd = self._open_parent(parts[:-1])
        except NotADirectoryError as e:
            raise InvalidParameter(f"cannot create {name}: {e.filename} is not a directory") from e
        except OSError as e:
            raise SystemError_(f"cannot create {name}: {_reason(e)}") from e
        try:
            self._place(parent_fd, (*parent, parts[-1]), node, data)
        except OSError as e:
            raise SystemError_(f"cannot create {name}: {_reason(e)}") from e
        finally:
            if self._removed:
                self._removed = False
                self.close()

    def finish(self) -> None:
        """Apply the directories' modes and mtimes, deepest first."""
        self.close()
        for parts, (mode, mtime_ns) in sorted(self._dirs.items(), key=lambda i: -len(i[0])):
            try:
                fd = open_dir(self._fd, parts)
            except (FileNotFoundError, NotADirectoryError):
                continue  # replaced by a later entry
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)
        self._dirs.clear()

    def _open_parent(self, asked: Parts) -> tuple[Parts, int]:
        if self._parent is not None and self._parent[0] == asked:
            return self._parent[1], self._parent[2]
        self.close()
        resolved = self._resolve(asked)
        fd = open_dir(self._fd, resolved, create=True)
        self._parent = (asked, resolved, fd)
        return resolved, fd

    def _resolve(self, parts: Parts) -> Parts:
        if not parts:
            return ()
        resolved = resolve_in_root(self._root, "/".join(parts))
        return resolved.relative_to(self._root).parts

    def _place(self, parent_fd: int, key: Parts, node: Node, data: IO[bytes] | None) -> None:
        name = key[-1]
        link_source: tuple[int, str] | None = None
        if node.kind is Kind.HARDLINK:
            target = self._hardlink_target(node.linkname)
            if target == key:
                return
            link_source = (open_dir(self._fd, target[:-1]), target[-1])
        try:
            self._clear(parent_fd, key, node.kind)
            if link_source is not None:
                os.link(link_source[1], name, src_dir_fd=link_source[0],
                        dst_dir_fd=parent_fd, follow_symlinks=False)  # fmt: skip
            elif node.kind is Kind.FILE:
                self._write_file(parent_fd, name, node, data)
            elif node.kind is Kind.DIR:
                self._make_dir(parent_fd, key, node)
            elif node.kind is Kind.SYMLINK:
                os.symlink(node.linkname, name, dir_fd=parent_fd)
                if node.owner is not None:
                    os.chown(name, *node.owner, dir_fd=parent_fd, follow_symlinks=False)
                os.utime(name, ns=(node.mtime_ns, node.mtime_ns), dir_fd=parent_fd,
                         follow_symlinks=False)  # fmt: skip
            else:
                self._make_node(parent_fd, name, node)
        finally:
            if link_source is not None:
                os.close(link_source[0])

    def _hardlink_target(self, linkname: str) -> Parts:
        # As moby's resolveHardlinkTarget: an absolute target is taken from the root, and a
        # target that climbs out of it is refused.
        cleaned = clean(linkname.lstrip("/"))
        if cleaned == "." or cleaned == ".." or cleaned.startswith("../"):
            raise InvalidParameter(f"invalid hardlink target {quote(linkname)}")
        parts = tuple(cleaned.split("/"))
        return (*self._resolve(parts[:-1]), parts[-1])

    def _clear(self, parent_fd: int, key: Parts, kind: Kind) -> None:
        """Make room at ``key``: remove what is there unless both are directories."""
        existing = lstat_at(parent_fd, key[-1])
        if existing is None or (stat.S_ISDIR(existing.st_mode) and kind is Kind.DIR):
            return
        self._removed = True
        if stat.S_ISDIR(existing.st_mode):
            shutil.rmtree(key[-1], dir_fd=parent_fd)  # descriptor-based: never follows links
            self._dirs = {k: v for k, v in self._dirs.items() if k[: len(key)] != key}
        else:
            os.unlink(key[-1], dir_fd=parent_fd)

    def _write_file(self, parent_fd: int, name: str, node: Node, data: IO[bytes] | None) -> None:
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            if data is not None:
                while chunk := data.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
            self._set_owner_and_xattrs(fd, node)
            os.fchmod(fd, node.mode)
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
        finally:
            os.close(fd)

    def _make_dir(self, parent_fd: int, key: Parts, node: Node) -> None:
        with contextlib.suppress(FileExistsError):  # merging into an existing directory
            os.mkdir(key[-1], 0o700, dir_fd=parent_fd)
        fd = os.open(key[-1], DIR_FLAGS, dir_fd=parent_fd)
        try:
            self._set_owner_and_xattrs(fd, node)
        finally:
            os.close(fd)
        self._dirs[key] = (node.mode, node.mtime_ns)

    def _make_node(self, parent_fd: int, name: str, node: Node) -> None:
        if node.kind is Kind.FIFO:
            os.mkfifo(name, 0o600, dir_fd=parent_fd)
        else:
            kind = stat.S_IFCHR if node.kind is Kind.CHAR else stat.S_IFBLK
            os.mknod(name, kind | 0o600, node.rdev, dir_fd=parent_fd)
        # The node was just made in a directory only the engine writes to: no link can be there.
        if node.owner is not None:
            os.chown(name, *node.owner, dir_fd=parent_fd, follow_symlinks=False)
        os.chmod(name, node.mode, dir_fd=parent_fd)
        os.utime(name, ns=(node.mtime_ns, node.mtime_ns), dir_fd=parent_fd, follow_symlinks=False)

    @staticmethod
    def _set_owner_and_xattrs(fd: int, node: Node) -> None:
        if node.owner is not None:
            os.fchown(fd, *node.owner)
        for key, value in node.xattrs.items():
            if is_overlay_xattr(key):
                continue  # overlayfs trusts these: only the engine may set them
            try:
                os.setxattr(fd, key, value)
            except OSError as e:
                if e.errno not in _IGNORED_XATTR_ERRNOS:
                    raise


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()  # Go spells errno texts in lower case
