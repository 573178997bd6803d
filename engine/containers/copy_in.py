"""Extract a ``docker cp`` upload into a directory of a container's root filesystem.

The tar comes from a client and the directory belongs to a container that may be running and
changing it meanwhile, so both are treated as hostile. Nothing is reached by a host path: every
directory is opened from a descriptor of the extraction directory with ``openat(O_NOFOLLOW)``, so a
symlink (planted by the tar, or swapped in by the container) can never lead to the host's files.

Docker's rules, as dockerd's ``archive.Untar`` applies them for ``PUT /containers/{id}/archive``:

* a member's name is joined to the extraction directory lexically, ``..`` stopping at the
  container's root; a member that still lands outside the extraction directory is refused;
* a relative symlink may not point outside the extraction directory, nor a hardlink's target;
* an existing file is replaced and an existing directory merged with a directory member; with
  ``noOverwriteDirNonDir`` a directory never replaces a non-directory, nor the reverse;
* nothing is interpreted: ``.wh.`` names are plain files (whiteouts belong to image layers).

Where this differs from dockerd: dockerd extracts inside a chroot and so follows a symlink already
in the container (``etc -> /etc``); from the host, such a member is refused instead. Files belong
to the engine's user (root) unless ``copyUIDGID`` asks for the tar's owners, as Docker's
documentation says (dockerd itself always chowns to the tar's owners). And nothing is written
below /proc or /sys, where the container would never see it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Sequence
from typing import BinaryIO

import orjson

from engine.errors import InvalidParameter, SystemError_, tar_error_text
from engine.rootless.overlay_marks import is_overlay_xattr
from engine.snapshots import tarstream
from engine.snapshots.tarstream import open_stream

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PAX_XATTR_PREFIX = "SCHILY.xattr."
# The container's kernel filesystems: what lies below them in its root is never what it sees.
KERNEL_DIRS = frozenset({"proc", "sys"})

Parts = tuple[str, ...]
IdMapper = Callable[[int, int], tuple[int, int]]


class CopyError(InvalidParameter):
    """The upload cannot be extracted where it was sent."""


def quote(path: str) -> str:
    """A path quoted the way Go's %q quotes it in dockerd's messages."""
    return orjson.dumps(path).decode()


def container_path(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts)


def join_clamped(base: Sequence[str], name: str) -> Parts:
    """``name`` joined to ``base`` lexically, as Go's filepath.Join does; ``..`` stops at the
    root, and a leading ``/`` does not restart from it."""
    out = list(base)
    for part in name.split("/"):
        if part == "..":
            if out:
                out.pop()
        elif part not in ("", "."):
            out.append(part)
    return tuple(out)


def open_dir_beneath(base_fd: int, parts: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of the directory at ``parts`` below ``base_fd``, never following a symlink.

    Missing directories are made (0755) when ``create``. A symlink on the way raises CopyError; a
    file on the way raises NotADirectoryError, a missing directory FileNotFoundError.
    """
    fd = os.dup(base_fd)
    try:
        for part in parts:
            next_fd = _open_child_dir(fd, part, create)
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_child_dir(fd: int, name: str, create: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):  # made meanwhile: the open below decides
            os.mkdir(name, 0o755, dir_fd=fd)
            made = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.fchmod(made, 0o755)  # mkdir's mode went through the umask
            return made
        return _open_child_dir(fd, name, create=False)
    except OSError as e:
        # O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a symlink too; tell the two apart.
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            raise CopyError(f"{name!r} is a symbolic link: not followed from the host") from e
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), name) from e


def extract(
    dest_fd: int,
    dest: Parts,
    stream: BinaryIO,
    *,
    no_overwrite_dir_non_dir: bool,
    copy_uid_gid: bool,
    to_host: IdMapper | None = None,
) -> None:
    """Unpack the (optionally compressed) tar in ``stream`` into the open directory ``dest_fd``,
    which is ``dest`` (components below the container's root). ``to_host`` turns the tar's
    owners into host IDs for a container in a user namespace."""
    extractor = _Extractor(dest_fd, dest, no_overwrite_dir_non_dir, copy_uid_gid, to_host)
    try:
        with open_stream(stream) as tar:
            for member in tar:
                extractor.apply(tar, member)
        extractor.finish()
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise CopyError(f"Error processing tar file: {tar_error_text(e)}") from e


class _Extractor:
    def __init__(
        self,
        dest_fd: int,
        dest: Parts,
        no_overwrite: bool,
        copy_ids: bool,
        to_host: IdMapper | None,
    ) -> None:
        self.dest_fd = dest_fd
        self.dest = dest
        self.no_overwrite = no_overwrite
        self.copy_ids = copy_ids
        self.to_host = to_host
        self.allow_devices = os.geteuid() == 0
        # Directory modes and mtimes wait until the end: adding children changes the mtime.
        self._dirs: dict[Parts, tuple[int, int]] = {}

    def _below_dest(self, name: str) -> Parts | None:
        """``name``'s components below the extraction directory; None if it lands outside."""
        if "\x00" in name:
            raise CopyError(f"invalid tar member name {name!r}")
        full = join_clamped(self.dest, name)
        if full[: len(self.dest)] != self.dest:
            return None
        if full and full[0] in KERNEL_DIRS:
            raise CopyError(f"cannot copy to {container_path(full)}: a kernel filesystem")
        return full[len(self.dest) :]

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self._below_dest(member.name)
        if parts is None:
            raise CopyError(
                f"{quote(member.name)} is outside of {quote(container_path(self.dest))}"
            )
        if not parts:
            return  # the extraction directory itself keeps its metadata, as with dockerd
        device = member.ischr() or member.isblk()
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()
                or member.isfifo() or (device and self.allow_devices)):  # fmt: skip
            return
        path = container_path(self.dest + parts)
        try:
            parent_fd = open_dir_beneath(self.dest_fd, parts[:-1], create=True)
        except CopyError as e:
            raise CopyError(f"cannot extract {path}: {e.message}") from e
        except NotADirectoryError as e:
            raise CopyError(f"cannot extract {path}: {e.filename!r} is not a directory") from e
        except OSError as e:
            raise SystemError_(f"cannot extract {path}: {_reason(e)}") from e
        try:
            self._create(tar, member, parts, parent_fd)
        except OSError as e:
            raise SystemError_(f"cannot extract {path}: {_reason(e)}") from e
        finally:
            os.close(parent_fd)

    def _create(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: Parts, parent_fd: int
    ) -> None:
        name = parts[-1]
        if member.islnk():
            self._hardlink(parent_fd, parts, member)
            return
        if member.issym():
            self._check_symlink(parts, member)
        self._clear(parent_fd, parts, member)
        if member.isreg():
            self._write_file(tar, member, parent_fd, name)
        elif member.isdir():
            with contextlib.suppress(FileExistsError):  # merging into an existing directory
                os.mkdir(name, 0o700, dir_fd=parent_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                self._set_owner_and_xattrs(fd, member)
            finally:
                os.close(fd)
            self._dirs[parts] = (member.mode & 0o7777, _mtime_ns(member))
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent_fd)
            self._set_node_times_and_owner(parent_fd, name, member)
        else:
            if member.isfifo():
                os.mkfifo(name, 0o600, dir_fd=parent_fd)
            else:
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                device = os.makedev(member.devmajor, member.devminor)
                os.mknod(name, kind | 0o600, device, dir_fd=parent_fd)
            _chmod_node(parent_fd, name, member.mode & 0o7777)
            self._set_node_times_and_owner(parent_fd, name, member)

    def _check_symlink(self, parts: Parts, member: tarfile.TarInfo) -> None:
        # dockerd joins even an absolute target to the link's directory, so only relative
        # targets can climb out; the container resolves absolute ones in its own root.
        target = join_clamped(self.dest + parts[:-1], member.linkname)
        if target[: len(self.dest)] != self.dest:
            path = container_path(self.dest + parts)
            raise CopyError(f"invalid symlink {quote(path)} -> {quote(member.linkname)}")

    def _clear(self, parent_fd: int, parts: Parts, member: tarfile.TarInfo) -> None:
        """Make room for ``member``: replace what is there, unless both are directories."""
        name = parts[-1]
        try:
            existing = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        is_dir = stat.S_ISDIR(existing.st_mode)
        if is_dir and member.isdir():
            return
        if self.no_overwrite:
            path, dest = quote(container_path(self.dest + parts)), quote(container_path(self.dest))
            if is_dir:
                raise CopyError(f"cannot overwrite directory {path} with non-directory {dest}")
            if member.isdir():
                raise CopyError(f"cannot overwrite non-directory {path} with directory {dest}")
        if is_dir:
            shutil.rmtree(name, dir_fd=parent_fd)  # descriptor-based: safe from symlink swaps
            self._dirs = {k: v for k, v in self._dirs.items() if k[: len(parts)] != parts}
        else:
            os.unlink(name, dir_fd=parent_fd)

    def _write_file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent_fd: int, name: str
    ) -> None:
        source = tar.extractfile(member)
        if source is None:
            raise CopyError(f"invalid tar member {member.name!r}: no file data")
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(source, out, _CHUNK)
            # chown clears setuid/setgid, so the mode comes after it.
            self._set_owner_and_xattrs(fd, member)
            os.fchmod(fd, member.mode & 0o7777)
            mtime_ns = _mtime_ns(member)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def _hardlink(self, parent_fd: int, parts: Parts, member: tarfile.TarInfo) -> None:
        source = self._below_dest(member.linkname)
        if not source:
            path = container_path(join_clamped(self.dest, member.linkname))
            raise CopyError(f"invalid hardlink {quote(path)} -> {quote(member.linkname)}")
        if source == parts:
            return
        source_fd = open_dir_beneath(self.dest_fd, source[:-1])
        try:
            self._clear(parent_fd, parts, member)
            os.link(source[-1], parts[-1], src_dir_fd=source_fd, dst_dir_fd=parent_fd,
                    follow_symlinks=False)  # fmt: skip
        finally:
            os.close(source_fd)

    def _owner(self, member: tarfile.TarInfo) -> tuple[int, int]:
        return self.to_host(member.uid, member.gid) if self.to_host else (member.uid, member.gid)

    def _set_owner_and_xattrs(self, fd: int, member: tarfile.TarInfo) -> None:
        if self.copy_ids:
            os.fchown(fd, *self._owner(member))
        for key, value in member.pax_headers.items():
            attr = key[len(_PAX_XATTR_PREFIX) :]
            # overlayfs trusts its own xattrs; only the engine may set them.
            if not key.startswith(_PAX_XATTR_PREFIX) or is_overlay_xattr(attr):
                continue
            try:
                os.setxattr(fd, attr, value.encode("utf-8", "surrogateescape"))
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def _set_node_times_and_owner(self, parent_fd: int, name: str, member: tarfile.TarInfo) -> None:
        if self.copy_ids:
            os.chown(name, *self._owner(member), dir_fd=parent_fd, follow_symlinks=False)
        mtime_ns = _mtime_ns(member)
        os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=parent_fd, follow_symlinks=False)

    def finish(self) -> None:
        """Apply the deferred directory metadata, deepest first."""
        for parts, (mode, mtime_ns) in sorted(self._dirs.items(), key=lambda i: -len(i[0])):
            try:
                fd = open_dir_beneath(self.dest_fd, parts)
            except (FileNotFoundError, NotADirectoryError):
                continue  # replaced by a later member
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)


def _chmod_node(parent_fd: int, name: str, mode: int) -> None:
    """chmod without following a symlink the container may have swapped in: through an O_PATH
    descriptor of the node, after checking what it is (Linux has no lchmod)."""
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        if not stat.S_ISLNK(os.fstat(fd).st_mode):
            os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()  # Go spells errno texts in lower case


def _mtime_ns(member: tarfile.TarInfo) -> int:
    try:
        return tarstream.mtime_ns(member)
    except (OverflowError, ValueError) as e:
        raise CopyError(f"invalid tar member {member.name!r}: bad mtime") from e
