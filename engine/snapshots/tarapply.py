"""Apply one image layer tar onto a directory that becomes an overlayfs lower layer.

The tar stream comes from a registry or from ``docker load`` and is treated as hostile: nothing may
be created, modified or chowned outside the target directory. Instead of resolving paths and then
checking them (racy, and fooled by symlinks the layer itself creates), every member is reached by
walking its parent directories one component at a time with ``openat(O_NOFOLLOW)`` from a
descriptor of the target, and created relative to the parent's descriptor without following a
symlink in the final component. ``..`` is resolved lexically and may not climb above the root.

Docker's aufs-style whiteouts in the tar are converted to the overlayfs form: ``.wh.name`` becomes a
0/0 character device and ``.wh..wh..opq`` the opaque xattr (``trusted.overlay.opaque``, or
``user.overlay.opaque`` in a rootless engine).
"""

import contextlib
import errno
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

from engine.errors import InvalidParameter
from engine.rootless.overlay_marks import is_overlay_xattr, opaque_xattr
from engine.rootless.own_ids import insufficient_ids, is_mapped
from engine.snapshots.tarstream import drain, open_stream
from engine.snapshots.tarstream import mtime_ns as member_mtime_ns

_CHUNK = 1 << 20
_MAX_NAME_BYTES = 4096
_MAX_DEPTH = 256
_WHITEOUT_PREFIX = ".wh."
_WHITEOUT_META_PREFIX = ".wh..wh."
_WHITEOUT_OPAQUE = ".wh..wh..opq"
_PAX_XATTR_PREFIX = "SCHILY.xattr."
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Rootless engines and filesystems without xattr support still get a usable layer; dockerd is
# equally lenient.
_IGNORED_XATTR_ERRNOS = frozenset({errno.ENOTSUP, errno.EPERM})

_Parts = tuple[str, ...]


class LayerError(InvalidParameter):
    """The layer tar is malformed or tries to reach outside the layer root."""


def apply_layer(stream: BinaryIO, target: Path, *, allow_devices: bool | None = None) -> int:
    """Unpack the (optionally gzipped) layer tar read from ``stream`` into the empty ``target``.

    Returns the layer size as Docker reports it: the sum of the sizes of the regular files.
    Device nodes are skipped unless ``allow_devices`` (default: running as root) is true.
    """
    if allow_devices is None:
        allow_devices = os.geteuid() == 0
    applier = _Applier(os.open(target, _DIR_FLAGS), allow_devices)
    try:
        with open_stream(stream) as tar:
            for member in tar:
                try:
                    applier.apply(tar, member)
                except (OverflowError, ValueError) as e:
                    raise LayerError(f"invalid tar member {member.name!r}: {e}") from e
                except OSError as e:
                    if e.errno == errno.EINVAL and not is_mapped(member.uid, member.gid):
                        name = posixpath.normpath("/" + member.name)
                        raise LayerError(insufficient_ids(member.uid, member.gid, name)) from e
                    if e.errno != errno.ENAMETOOLONG:
                        raise
                    raise LayerError(f"invalid tar member {member.name!r}: name too long") from e
        applier.finish()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        reason = str(e) or type(e).__name__
        raise LayerError(f"invalid tar stream: {reason}") from e
    finally:
        os.close(applier.root_fd)
    return applier.size


class _Applier:
    def __init__(self, root_fd: int, allow_devices: bool) -> None:
        self.root_fd = root_fd
        self.allow_devices = allow_devices
        self.size = 0
        # Directory mode and mtime wait until the end: adding children changes the mtime, and a
        # read-only mode would stop a non-root engine from adding them.
        self._dirs: dict[_Parts, tuple[int, int]] = {}

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _member_parts(member.name)
        if not parts:
            return
        if parts[0].startswith(_WHITEOUT_META_PREFIX) and parts != (_WHITEOUT_OPAQUE,):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) means nothing to overlayfs
        if parts[-1].startswith(_WHITEOUT_PREFIX):
            drain(tar, member)
            self._whiteout(parts, member)
            return
        if (member.ischr() or member.isblk()) and not self.allow_devices:
            return
        known = member.isreg() or member.isdir() or member.issym() or member.islnk()
        if not (known or member.isdev()):  # isdev() covers fifos too
            drain(tar, member)
            return
        mtime_ns = member_mtime_ns(member)
        parent_fd = self._open_dir(parts[:-1], create=True)
        try:
            if member.islnk():
                self._hardlink(parent_fd, parts, member)
                return
            self._clear(parent_fd, parts, keep_dir=member.isdir())
            name = parts[-1]
            if member.isreg():
                self._write_file(tar, member, parent_fd, name, mtime_ns)
            elif member.isdir():
                self._make_dir(member, parent_fd, name)
                self._dirs[parts] = (member.mode & 0o7777, mtime_ns)
            elif member.issym():
                os.symlink(member.linkname, name, dir_fd=parent_fd)
                _set_node_metadata(parent_fd, name, member, mtime_ns, chmod=False)
            else:
                if member.isfifo():
                    os.mkfifo(name, 0o600, dir_fd=parent_fd)
                else:
                    kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                    device = os.makedev(member.devmajor, member.devminor)
                    os.mknod(name, kind | 0o600, device, dir_fd=parent_fd)
                _set_node_metadata(parent_fd, name, member, mtime_ns, chmod=True)
        finally:
            os.close(parent_fd)

    def finish(self) -> None:
        """Apply the deferred directory metadata, deepest first so parents stay traversable."""
        for parts, (mode, mtime_ns) in sorted(self._dirs.items(), key=lambda i: -len(i[0])):
            fd = self._open_dir(parts, create=False)
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)

    def _open_dir(self, parts: _Parts, *, create: bool) -> int:
        """Return a descriptor of the directory at ``parts``, never following a symlink."""
        fd = os.dup(self.root_fd)
        try:
            for i, part in enumerate(parts):
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    os.fchmod(next_fd, 0o755)  # mkdir's mode was filtered by our umask
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    # Writing through a symlink is how a layer reaches /etc on the host.
                    path = "/".join(parts[: i + 1])
                    raise LayerError(
                        f"invalid tar member path {'/'.join(parts)!r}: "
                        f"{path!r} is a symlink or not a directory"
                    ) from e
                os.close(fd)
                fd = next_fd
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _clear(self, parent_fd: int, parts: _Parts, *, keep_dir: bool) -> None:
        """Remove whatever an earlier member left at ``parts``, unless it is a dir to merge into."""
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=parent_fd)
        elif not keep_dir:
            shutil.rmtree(name, dir_fd=parent_fd)
            self._dirs = {k: v for k, v in self._dirs.items() if k[: len(parts)] != parts}

    def _write_file(
        self,
        tar: tarfile.TarFile,
        member: tarfile.TarInfo,
        parent_fd: int,
        name: str,
        mtime_ns: int,
    ) -> None:
        source = tar.extractfile(member)
        if source is None:
            raise LayerError(f"invalid tar member {member.name!r}: no file data")
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(source, out, _CHUNK)
            # Order matters: chown clears setuid/setgid and security.capability, chmod restores
            # the former, the xattrs the latter.
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            _set_xattrs(fd, member, follow_symlinks=True)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        self.size += member.size

    def _make_dir(self, member: tarfile.TarInfo, parent_fd: int, name: str) -> None:
        with contextlib.suppress(FileExistsError):  # merging into an earlier member's directory
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        try:
            os.fchown(fd, member.uid, member.gid)
            _set_xattrs(fd, member, follow_symlinks=True)
        finally:
            os.close(fd)

    def _hardlink(self, parent_fd: int, parts: _Parts, member: tarfile.TarInfo) -> None:
        source = _member_parts(member.linkname)
        if source == parts:
            return  # a link to itself changes nothing
        if not source:
            raise LayerError(f"invalid hardlink {member.name!r}: target is the layer root")
        missing = LayerError(
            f"invalid hardlink {member.name!r}: target {member.linkname!r} does not exist"
        )
        try:
            source_fd = self._open_dir(source[:-1], create=False)
        except FileNotFoundError:
            raise missing from None
        try:
            try:
                st = os.stat(source[-1], dir_fd=source_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise missing from None
            if stat.S_ISDIR(st.st_mode):
                raise LayerError(
                    f"invalid hardlink {member.name!r}: target {member.linkname!r} is a directory"
                )
            self._clear(parent_fd, parts, keep_dir=False)
            try:
                os.link(
                    source[-1],
                    parts[-1],
                    src_dir_fd=source_fd,
                    dst_dir_fd=parent_fd,
                    follow_symlinks=False,
                )
            except FileNotFoundError:
                raise missing from None  # clearing the link's path removed its target
        finally:
            os.close(source_fd)

    def _whiteout(self, parts: _Parts, member: tarfile.TarInfo) -> None:
        parent_fd = self._open_dir(parts[:-1], create=True)
        try:
            if parts[-1] == _WHITEOUT_OPAQUE:
                try:
                    os.setxattr(parent_fd, opaque_xattr(), b"y")
                except OSError as e:
                    raise LayerError(
                        f"cannot mark {'/'.join(parts[:-1]) or '/'!r} opaque: {e.strerror}"
                        " (overlay opaque directories need root and a filesystem with xattrs)"
                    ) from e
                return
            name = parts[-1][len(_WHITEOUT_PREFIX) :]
            if name in ("", ".", ".."):
                raise LayerError(f"invalid whiteout {member.name!r}")
            self._clear(parent_fd, (*parts[:-1], name), keep_dir=False)
            try:
                os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)
            except PermissionError as e:
                raise LayerError(
                    f"cannot create whiteout for {member.name!r}: overlay whiteouts need root"
                ) from e
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
        finally:
            os.close(parent_fd)


def _member_parts(name: str) -> _Parts:
    """Normalise a member or hardlink name to components below the root; () is the root."""
    if "\x00" in name:
        raise LayerError(f"invalid tar member path {name!r}: contains a NUL byte")
    if len(os.fsencode(name)) > _MAX_NAME_BYTES:
        raise LayerError(f"invalid tar member path {name[:64]!r}…: longer than 4096 bytes")
    # Like Docker, an absolute name is relative to the layer root.
    relative = posixpath.normpath(name.lstrip("/"))
    if relative == ".":
        return ()
    if relative == ".." or relative.startswith("../"):
        raise LayerError(f"invalid tar member path {name!r}: escapes the layer root")
    parts = tuple(relative.split("/"))
    if len(parts) > _MAX_DEPTH:
        raise LayerError(f"invalid tar member path {name[:64]!r}…: deeper than {_MAX_DEPTH}")
    return parts


def _set_node_metadata(
    parent_fd: int, name: str, member: tarfile.TarInfo, mtime_ns: int, *, chmod: bool
) -> None:
    os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
    if chmod:
        # Follows a symlink in principle, but the node was created just now and is none.
        os.chmod(name, member.mode & 0o7777, dir_fd=parent_fd)
    # There is no setxattr relative to a directory fd; the /proc magic link pins the very
    # directory we hold, and follow_symlinks=False keeps the final component unfollowed.
    if any(key.startswith(_PAX_XATTR_PREFIX) for key in member.pax_headers):
        _set_xattrs(f"/proc/self/fd/{parent_fd}/{name}", member, follow_symlinks=False)
    os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=parent_fd, follow_symlinks=False)


def _set_xattrs(target: int | str, member: tarfile.TarInfo, *, follow_symlinks: bool) -> None:
    for key, value in member.pax_headers.items():
        if not key.startswith(_PAX_XATTR_PREFIX):
            continue
        attr = key[len(_PAX_XATTR_PREFIX) :]
        # overlayfs trusts its own xattrs (redirect, metacopy, opaque); only the engine sets them.
        if is_overlay_xattr(attr):
            continue
        try:
            raw = value.encode("utf-8", "surrogateescape")
            os.setxattr(target, attr, raw, follow_symlinks=follow_symlinks)
        except OSError as e:
            if e.errno in _IGNORED_XATTR_ERRNOS:
                continue
            raise LayerError(
                f"invalid tar member {member.name!r}: cannot set xattr {attr!r}: {e.strerror}"
            ) from e
