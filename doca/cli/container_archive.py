"""The local side of `cp`, as the docker CLI does it with moby's go-archive: what a source or
destination path is (CopyInfo), which directory an archive goes into and how its entries are
renamed (PrepareArchiveCopy), a tar of a local path (TarResourceRebase), and extraction into a
local directory (Untar without chown, never replacing a directory by a file or the reverse).
ValueError carries go-archive's wording."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

# Renames of archive entries, applied in turn: (old first component, new).
Renames = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CopyInfo:
    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


def go_base(path: str) -> str:
    """filepath.Base."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rpartition("/")[2]


def go_clean(path: str) -> str:
    """filepath.Clean."""
    return posixpath.normpath(path) if path else "."


def go_dir(path: str) -> str:
    """filepath.Dir."""
    return go_clean(path.rpartition("/")[0] or ("/" if path.startswith("/") else "."))


def os_error(action: str, path: str, error: OSError) -> ValueError:
    """A Go os.PathError's text: ``lstat /x: no such file or directory``."""
    return ValueError(f"{action} {path}: {(error.strerror or str(error)).lower()}")


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """(directory, entry) of ``path``; the entry is ``.`` for a path ending in ``/.``."""
    cleaned = go_clean(path)
    if go_base(path) == ".":
        cleaned += "/."
    return go_dir(cleaned), go_base(cleaned)


def preserve_trailing(cleaned: str, original: str) -> str:
    """PreserveTrailingDotOrSeparator: keep the ``/.`` or ``/`` that says "the contents of"."""
    if go_base(cleaned) != "." and go_base(original) == ".":
        cleaned = (cleaned if cleaned.endswith("/") else cleaned + "/") + "."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def local_path(path: str) -> str:
    """An absolute local path, its trailing ``/.`` or ``/`` kept (resolveLocalPath)."""
    return preserve_trailing(os.path.abspath(path), path)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """GetRebaseName: the resolved path with ``path``'s trailing ``/.`` or ``/``, and the name
    the copy keeps when following a link changed the last component ("" when it did not)."""
    if go_base(path) == "." and go_base(resolved) != ".":
        resolved += "/."
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved, go_base(path) if go_base(path) != go_base(resolved) else ""


def source_info(path: str, follow_link: bool) -> CopyInfo:
    """CopyInfoSourcePath of a local source."""
    if follow_link:
        try:
            resolved = os.path.realpath(path, strict=True)
        except OSError as error:
            raise os_error("lstat", path, error) from None
        resolved, rebase = rebase_name(path, resolved)
    else:
        directory, base = path.rpartition("/")[0] + "/", path.rpartition("/")[2]
        try:
            parent = os.path.realpath(directory, strict=True)
        except OSError as error:
            raise os_error("lstat", directory, error) from None
        resolved = parent.rstrip("/") + "/" + base
        rebase = ""
        if path.endswith("/") and go_base(path) != go_base(resolved):
            rebase = go_base(path)
    try:
        info = os.lstat(resolved)
    except OSError as error:
        raise os_error("lstat", resolved, error) from None
    return CopyInfo(resolved, True, stat.S_ISDIR(info.st_mode), rebase)


def destination_info(path: str) -> CopyInfo:
    """CopyInfoDestinationPath: a symlink is followed (at most 10 times); a missing path is fine
    when its parent is a directory."""
    original = path
    for _ in range(11):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            break
        except OSError as error:
            raise os_error("lstat", path, error) from None
        if not stat.S_ISLNK(info.st_mode):
            return CopyInfo(path, True, stat.S_ISDIR(info.st_mode))
        target = os.readlink(path)
        path = target if target.startswith("/") else go_clean(
            split_path_dir_entry(path)[0] + "/" + target
        )  # fmt: skip
    else:
        raise ValueError(f"too many symlinks in {original}")
    parent = split_path_dir_entry(path)[0]
    try:
        parent_info = os.stat(parent)
    except OSError as error:
        raise os_error("stat", parent, error) from None
    if not stat.S_ISDIR(parent_info.st_mode):
        raise ValueError("not a directory")
    return CopyInfo(path)


def prepare_copy(source: CopyInfo, destination: CopyInfo) -> tuple[str, Renames]:
    """PrepareArchiveCopy: the directory to extract into, and the rename of the archive's
    entries that gives the copy the destination's name."""
    destination_dir, destination_base = split_path_dir_entry(destination.path)
    source_base = source.rebase_name or split_path_dir_entry(source.path)[1]
    if destination.exists and destination.is_dir:
        return destination.path, ()
    if destination.exists and source.is_dir:
        raise ValueError("cannot copy directory")
    if (
        not destination.exists
        and not source.is_dir
        and (destination.path.endswith("/") or go_base(destination.path) == ".")
    ):
        raise ValueError("no such directory")
    return destination_dir, ((source_base, destination_base),)


def renamed(name: str, renames: Renames) -> str:
    """RebaseArchiveEntries, once per rename: the first occurrence of the old name replaced."""
    for old, new in renames:
        name = name.replace(old, new, 1)
    return name


def _walk(top: str) -> Iterator[str]:
    """``top`` and, if it is a directory (not a link to one), everything below it in lexical
    order, as Go's filepath.WalkDir visits them."""
    yield top
    if not os.path.isdir(top) or os.path.islink(top):
        return
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return
    for name in names:
        yield from _walk(top.rstrip("/") + "/" + name)


def write_source_tar(source: CopyInfo, out: IO[bytes], renames: Renames) -> int:
    """A tar of the local ``source`` as TarResourceRebase writes it (entries named from its
    base name, or ``./`` for a path ending in ``/.``), its entries then renamed; its size as
    Go writes it (ending after the two zero blocks; ``out`` is cut there)."""
    directory, base = split_path_dir_entry(source.path)
    seen: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _walk(directory.rstrip("/") + "/" + base):
            relative = os.path.relpath(path, directory)
            if base == "." and relative != ".":
                relative = "./" + relative
            if source.rebase_name:
                relative = relative.replace(base, source.rebase_name, 1)
            _add(tar, path, renamed(relative, renames), seen)
    out.truncate(tar.offset)
    out.seek(tar.offset)
    return tar.offset


def _add(tar: tarfile.TarFile, path: str, name: str, seen: dict[tuple[int, int], str]) -> None:
    try:
        info = os.lstat(path)
    except OSError:
        return  # gone meanwhile: left out, as go-archive logs and goes on
    if stat.S_ISSOCK(info.st_mode):
        return
    entry = tarfile.TarInfo(name)
    entry.mode, entry.uid, entry.gid = info.st_mode & 0o7777, info.st_uid, info.st_gid
    entry.mtime = int(info.st_mtime)
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFDIR:
        entry.type = tarfile.DIRTYPE
    elif kind == stat.S_IFLNK:
        entry.type, entry.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif kind == stat.S_IFIFO:
        entry.type = tarfile.FIFOTYPE
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        entry.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
        entry.devmajor, entry.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
    if kind != stat.S_IFDIR and info.st_nlink > 1:
        first = seen.setdefault((info.st_dev, info.st_ino), name)
        if first != name:
            entry.type, entry.linkname = tarfile.LNKTYPE, first
            tar.addfile(entry)
            return
    if kind == stat.S_IFREG:
        entry.size = info.st_size
        with open(path, "rb") as data:
            tar.addfile(entry, data)
        return
    tar.addfile(entry)


def _within(base: str, path: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def extract_tar(stream: IO[bytes], destination: str, renames: Renames) -> int:
    """Untar ``stream`` into the directory ``destination`` (NoLchown, NoOverwriteDirNonDir):
    files get the archive's modes and times, not its owners. The bytes a Go tar reader reads
    of it: up to the end of its two zero blocks."""
    destination = go_clean(destination)
    directories: list[tuple[str, tarfile.TarInfo]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = go_clean(renamed(member.name, renames).lstrip("/") or ".")
            path = go_clean(destination + "/" + name)
            if not _within(destination, path):
                raise ValueError(f'"{name}" is outside of "{destination}"')
            parent = go_dir(path)
            if not os.path.lexists(parent):
                os.makedirs(parent, 0o755)
            if _replace_existing(path, name, member, destination):
                _create(tar, member, path, destination, renames)
            if member.isdir():
                directories.append((path, member))
            else:
                os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    for path, member in reversed(directories):
        os.utime(path, (member.mtime, member.mtime))
    return tar.offset + 2 * tarfile.BLOCKSIZE


def _replace_existing(path: str, name: str, member: tarfile.TarInfo, destination: str) -> bool:
    """Clear the way for ``member`` at ``path``; False when an existing directory is kept as
    it is (the archive's ``.``)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    is_dir = stat.S_ISDIR(info.st_mode)
    if is_dir and not member.isdir():
        raise ValueError(f'cannot overwrite directory "{path}" with non-directory "{destination}"')
    if not is_dir and member.isdir():
        raise ValueError(f'cannot overwrite non-directory "{path}" with directory "{destination}"')
    if is_dir and name == ".":
        return False
    if not is_dir:
        os.unlink(path)
    return True


def _create(
    tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, destination: str, renames: Renames
) -> None:
    if member.isdir():
        if not os.path.isdir(path):
            os.mkdir(path, 0o755)
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        with source, open(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600), "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    elif member.issym():
        if not _within(destination, go_clean(go_dir(path) + "/" + member.linkname)):
            raise ValueError(f'invalid symlink "{path}" -> "{member.linkname}"')
        os.symlink(member.linkname, path)
        return
    elif member.islnk():
        target = go_clean(destination + "/" + renamed(member.linkname, renames))
        if not _within(destination, target):
            raise ValueError(f'invalid hardlink "{target}" -> "{member.linkname}"')
        os.link(target, path)
        return
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    else:
        return
    os.chmod(path, member.mode)
