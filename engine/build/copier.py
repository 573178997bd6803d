"""What COPY and ADD do to an image's root filesystem, as dockerd's classic builder does it
(builder/dockerfile/copy.go, and pkg/archive's CopyWithTar and Untar underneath).

* Sources are paths in the build context (or another image, for ``COPY --from``), wildcards
  in Go's ``filepath.Match`` syntax; a named source that is a symlink is followed, within the
  source root; symlinks below a source directory are copied as symlinks.
* A relative destination is taken from WORKDIR. The destination is resolved inside the image's
  root, so an image's ``etc -> /etc`` leads to the image's /etc, never the host's.
* A directory source copies its contents. A file lands *in* the destination when that ends in
  ``/`` or is an existing directory, and *as* the destination otherwise. Several sources need
  a destination ending in ``/``.
* What already exists is replaced, except that directories merge; dockerd even replaces a
  symlink in the image with a copied directory of the same name (moby#41035), and so does this.
* Everything copied belongs to ``--chown``'s owner, or root; a new destination directory too,
  and new parents of a copied file, but not other new parents nor existing directories.
* ADD unpacks a local tar (plain, gzip, bzip2, xz or zstd, told by its content) into the
  destination directory, keeping the owners the tar records, as dockerd does.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from pathlib import Path

from engine.build.chown import Ownership, parse_chmod, resolve_chown
from engine.build.pathmatch import BadPattern, clean, contains_wildcards
from engine.build.pathmatch import match as path_match
from engine.build.treewriter import DIR_FLAGS, Kind, Node, Owner, TreeWriter, open_dir
from engine.build.untar import extract, is_archive
from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter, NotFound, SystemError_

__all__ = [
    "Ownership",
    "copy_sources",
    "match_sources",
    "normalize_dest",
    "parse_chmod",
    "resolve_chown",
]

_KINDS = {
    stat.S_IFREG: Kind.FILE,
    stat.S_IFDIR: Kind.DIR,
    stat.S_IFLNK: Kind.SYMLINK,
    stat.S_IFIFO: Kind.FIFO,
    stat.S_IFCHR: Kind.CHAR,
    stat.S_IFBLK: Kind.BLOCK,
}
_CAPABILITY_XATTR = "security.capability"  # the one xattr Docker's tar writer keeps


def match_sources(
    src_root: Path, patterns: list[str], *, instruction: str = "COPY", in_context: bool = True
) -> list[str]:
    """The sources the patterns name below ``src_root``: relative paths, in the patterns' order,
    each once. A named path that is missing is NotFound; patterns matching nothing at all are
    an error too. ``in_context`` is false for ``COPY --from``, whose messages do not mention
    the build context."""
    found: dict[str, None] = {}
    for pattern in patterns:
        orig = pattern.removeprefix("/").removeprefix("./")
        names = _glob(src_root, orig) if contains_wildcards(orig) else [orig]
        for name in names:
            found.setdefault(_existing(src_root, name, instruction, in_context))
    if not found:
        raise InvalidParameter(f"{instruction} failed: no source files were specified")
    return list(found)


def normalize_dest(workdir: str, dest: str) -> str:
    """The absolute destination: a relative one is joined to WORKDIR, and ends in ``/`` if it
    named a directory."""
    if dest.startswith("/"):
        return dest
    joined = clean(f"/{workdir}/{dest}")
    return joined + "/" if _names_directory(dest) and joined != "/" else joined


def copy_sources(
    src_root: Path,
    sources: list[str],
    dest_root: Path,
    dest: str,
    workdir: str,
    *,
    owner: Ownership | None,
    mode: int | None,
    extract_archives: bool,
    preserve_ownership: bool = False,
) -> None:
    """Copy ``sources`` (from match_sources) into the root filesystem at ``dest_root``.

    ``owner`` None means root, or, with ``preserve_ownership`` (``COPY --from`` without
    ``--chown``), the owners the sources have. ``mode`` replaces the permission bits of
    everything copied but symlinks. ``extract_archives`` makes this ADD.
    """
    instruction = "ADD" if extract_archives else "COPY"
    if len(sources) > 1 and not _names_directory(dest):
        raise InvalidParameter(
            f"When using {instruction} with more than one source file, "
            "the destination must be a directory and end with a /"
        )
    try:
        copy = _Copy(dest_root, normalize_dest(workdir, dest), owner, mode, preserve_ownership)
        try:
            for source in sources:
                copy.source(src_root, source, extract_archives)
        finally:
            copy.close()
    except OSError as e:
        raise SystemError_(f"failed to copy files: {(e.strerror or str(e)).lower()}") from e


class _Copy:
    def __init__(self, dest_root: Path, dest: str, owner: Ownership | None, mode: int | None,
                 preserve: bool) -> None:  # fmt: skip
        self.dest = dest
        self.ids: Owner | None = None if preserve and owner is None else (
            (owner.uid, owner.gid) if owner is not None else (0, 0))  # fmt: skip
        self.mode = mode
        self.devices = os.geteuid() == 0
        resolved = resolve_in_root(dest_root, dest)
        self.target = resolved.relative_to(dest_root).parts
        self.root_fd = os.open(dest_root, DIR_FLAGS)

    def close(self) -> None:
        os.close(self.root_fd)

    def source(self, src_root: Path, source: str, extract_archives: bool) -> None:
        src = resolve_in_root(src_root, source)
        try:
            info = os.lstat(src)
        except FileNotFoundError as e:
            raise NotFound(f"source path not found: stat {source}: file does not exist") from e
        existing = self._lstat(self.target)
        if stat.S_ISDIR(info.st_mode):
            self._directory(src, existing)
        elif extract_archives and stat.S_ISREG(info.st_mode) and is_archive(src):
            self._unpack(src, existing)
        elif _names_directory(self.dest) or (existing and stat.S_ISDIR(existing.st_mode)):
            name = posixpath.basename(source.rstrip("/"))
            self._file(src, info, (*self.target, name))
        else:
            self._file(src, info, self.target)

    def _directory(self, src: Path, existing: os.stat_result | None) -> None:
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise self._not_a_directory("failed to copy directory: mkdir")
        fd = self._open(self.target, owner=None)
        try:
            if existing is None:  # made by this copy: it is the copy's, as in dockerd
                if self.ids is not None:
                    os.fchown(fd, *self.ids)
                if self.mode is not None:
                    os.fchmod(fd, self.mode)
            with TreeWriter(fd, allow_devices=self.devices) as writer:
                self._tree(src, writer)
                writer.finish()
        finally:
            os.close(fd)

    def _tree(self, src: Path, writer: TreeWriter) -> None:
        links: dict[tuple[int, int], str] = {}  # hardlinked files stay hardlinked, as in a tar
        pending = [""]
        while pending:
            rel = pending.pop()
            with os.scandir(src / rel) as scan:
                entries = sorted(scan, key=lambda e: e.name)
            subdirs = []
            for entry in entries:
                name = f"{rel}/{entry.name}" if rel else entry.name
                info = entry.stat(follow_symlinks=False)
                node = self._node(Path(entry.path), info)
                if node is None:
                    continue
                if node.kind is Kind.FILE and info.st_nlink > 1:
                    first = links.setdefault((info.st_dev, info.st_ino), name)
                    if first != name:
                        writer.add(name, Node(Kind.HARDLINK, linkname=first))
                        continue
                self._add(writer, name, Path(entry.path), node)
                if node.kind is Kind.DIR:
                    subdirs.append(name)
            pending.extend(reversed(subdirs))

    def _file(self, src: Path, info: os.stat_result, target: tuple[str, ...]) -> None:
        node = self._node(src, info)
        if node is None:
            raise InvalidParameter(f"failed to copy files: {src.name}: sockets not supported")
        # dockerd makes a copied file's missing parents for the copy's owner.
        fd = self._open(target[:-1], owner=self.ids)
        try:
            with TreeWriter(fd, allow_devices=self.devices) as writer:
                self._add(writer, target[-1], src, node)
                writer.finish()
        finally:
            os.close(fd)

    def _unpack(self, src: Path, existing: os.stat_result | None) -> None:
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise self._not_a_directory("mkdir")
        fd = self._open(self.target, owner=None)
        try:
            with open(src, "rb") as archive, TreeWriter(fd, allow_devices=self.devices) as writer:
                extract(archive, writer, keep_owners=True)
        finally:
            os.close(fd)

    def _node(self, path: Path, info: os.stat_result) -> Node | None:
        kind = _KINDS.get(stat.S_IFMT(info.st_mode))
        if kind is None:
            return None  # sockets: Docker's tar writer skips them too
        mode = stat.S_IMODE(info.st_mode)
        if self.mode is not None and kind is not Kind.SYMLINK:
            mode = self.mode
        return Node(
            kind,
            mode=mode,
            mtime_ns=info.st_mtime_ns,
            owner=self.ids if self.ids is not None else (info.st_uid, info.st_gid),
            linkname=os.readlink(path) if kind is Kind.SYMLINK else "",
            rdev=info.st_rdev if kind in (Kind.CHAR, Kind.BLOCK) else 0,
            xattrs=_capability(path) if kind is Kind.FILE else {},
        )

    @staticmethod
    def _add(writer: TreeWriter, name: str, path: Path, node: Node) -> None:
        if node.kind is not Kind.FILE:
            writer.add(name, node)
            return
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as data:
            writer.add(name, node, data)

    def _open(self, parts: tuple[str, ...], owner: Owner | None) -> int:
        try:
            return open_dir(self.root_fd, parts, create=True, owner=owner)
        except NotADirectoryError as e:
            raise self._not_a_directory("mkdir") from e

    def _lstat(self, parts: tuple[str, ...]) -> os.stat_result | None:
        try:
            return os.stat("/".join(parts) or ".", dir_fd=self.root_fd, follow_symlinks=False)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise

    def _not_a_directory(self, what: str) -> InvalidParameter:
        return InvalidParameter(f"failed to copy files: {what} {self.dest}: not a directory")


def _names_directory(dest: str) -> bool:
    """Whether the destination says it is a directory: a final ``/``, or (as BuildKit reads it)
    a final ``.``."""
    return dest.endswith("/") or dest == "." or dest.endswith("/.")


def _glob(root: Path, pattern: str) -> list[str]:
    """The paths below ``root`` that ``pattern`` matches, in the order dockerd's walk finds them
    (lexical, a directory before its contents). ``*`` and ``?`` never cross a ``/``, so the walk
    stops as deep as the pattern could reach."""
    found: list[str] = []
    _walk_matches(root, "", pattern, pattern.count("/") + pattern.count("[") + 1, found)
    return found


def _walk_matches(root: Path, rel: str, pattern: str, depth: int, found: list[str]) -> None:
    try:
        with os.scandir(root / rel) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except (NotADirectoryError, FileNotFoundError):
        return
    for entry in entries:
        name = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if path_match(pattern, name):
                found.append(name)
        except BadPattern:
            pass  # dockerd ignores a malformed pattern's error: it matches nothing
        if depth > 1 and entry.is_dir(follow_symlinks=False):
            _walk_matches(root, name, pattern, depth - 1, found)


def _existing(root: Path, name: str, instruction: str, in_context: bool) -> str:
    """``name`` cleaned, once it is known to exist (its symlinks followed within ``root``)."""
    cleaned = clean(name)
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidParameter(
            f"{instruction} failed: forbidden path outside the build context: {name} ()"
        )
    try:
        os.lstat(resolve_in_root(root, cleaned))
    except FileNotFoundError as e:
        where = "file not found in build context or excluded by .dockerignore: "
        raise NotFound(
            f"{instruction} failed: {where if in_context else ''}stat {name}: file does not exist"
        ) from e
    return cleaned


def _capability(path: Path) -> dict[str, bytes]:
    try:
        return {_CAPABILITY_XATTR: os.getxattr(path, _CAPABILITY_XATTR, follow_symlinks=False)}
    except OSError:
        return {}
