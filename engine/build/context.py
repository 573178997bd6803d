"""The build context a client sent: unpacking it, applying its .dockerignore, and the content
digests COPY and ADD use as cache keys.

The docker CLI already leaves out what .dockerignore excludes, but other clients may not, so
the engine applies the file again, as the CLI would have: an excluded directory goes whole
unless a ``!`` pattern may re-include something below it. The Dockerfile and .dockerignore are
always sent and kept until the Dockerfile is read; then ``drop_build_files`` removes them if
the patterns exclude them, as dockerd does, so COPY and ADD never see them.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

from engine.build.ignore import PatternMatcher, read_patterns
from engine.build.pathmatch import clean
from engine.build.treewriter import CHUNK, DIR_FLAGS, TreeWriter
from engine.build.untar import extract
from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter, NotFound

DOCKERIGNORE = ".dockerignore"
_MAX_IGNORE_BYTES = 10 << 20


def extract_context(stream: BinaryIO, dest: Path) -> None:
    """Unpack the context tar (plain, gzip, bzip2, xz or zstd) into ``dest``.

    Nothing is written outside ``dest``, device nodes are skipped, modes and mtimes are kept;
    ownership is not (COPY sets its own).
    """
    dest.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, DIR_FLAGS)
    try:
        with TreeWriter(fd, allow_devices=False) as writer:
            extract(stream, writer, keep_owners=False)
    finally:
        os.close(fd)


def apply_dockerignore(root: Path, dockerfile: str) -> PatternMatcher | None:
    """Delete what ``root/.dockerignore`` excludes from the context at ``root``, except the
    Dockerfile and .dockerignore; the patterns, or None without a .dockerignore."""
    text = _read_dockerignore(root)
    if text is None:
        return None
    matcher = PatternMatcher(read_patterns(text))
    kept = {_context_path(dockerfile), DOCKERIGNORE}
    _prune(root, "", matcher, kept)
    return matcher


def drop_build_files(root: Path, dockerfile: str, matcher: PatternMatcher | None) -> None:
    """Once the Dockerfile is read: remove it and .dockerignore if the patterns exclude them
    (dockerd's removeDockerfile)."""
    if matcher is None:
        return
    for name in (DOCKERIGNORE, _context_path(dockerfile)):
        if not matcher.excluded(name):
            continue
        # The name comes from the client: its directories are followed only within the context,
        # and the file itself is removed, not what it may link to.
        parent = resolve_in_root(root, posixpath.dirname(name))
        path = parent / posixpath.basename(name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def checksum(root: Path, rel_paths: list[str]) -> str:
    """A ``sha256:`` digest of the named files and trees below ``root``: their names, types,
    permission bits, contents and symlink targets — not mtimes or owners, which a context
    sent again from another checkout does not keep.

    A named path is followed within ``root`` as COPY follows it; symlinks below it are hashed
    as their target text, never followed.
    """
    digest = hashlib.sha256()
    for rel in rel_paths:
        top = resolve_in_root(root, rel)
        _hash_field(digest, clean("/" + rel).encode("utf-8", "surrogateescape"))
        try:
            _hash_tree(digest, top)
        except FileNotFoundError as e:
            raise NotFound(f"stat {rel}: file does not exist") from e
    return "sha256:" + digest.hexdigest()


def _context_path(name: str) -> str:
    return clean(name).lstrip("/") or "."


def _read_dockerignore(root: Path) -> str | None:
    path = resolve_in_root(root, DOCKERIGNORE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InvalidParameter(f"error reading .dockerignore: {e.strerror}") from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidParameter("error reading .dockerignore: not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(_MAX_IGNORE_BYTES + 1)
    if len(data) > _MAX_IGNORE_BYTES:
        raise InvalidParameter("error reading .dockerignore: file too large")
    return data.decode("utf-8", "surrogateescape")


def _prune(root: Path, rel: str, matcher: PatternMatcher, kept: set[str]) -> None:
    """Delete the excluded entries of the directory ``rel``, as Docker's tar walker skips them."""
    with os.scandir(root / rel if rel else root) as entries:
        listing = sorted(entries, key=lambda e: e.name)
    for entry in listing:
        path = f"{rel}/{entry.name}" if rel else entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        holds_kept = any(k.startswith(path + "/") for k in kept)
        if path in kept:
            continue
        if not matcher.excluded(path, is_dir):
            if is_dir:
                _prune(root, path, matcher, kept)
        elif not is_dir:
            os.unlink(entry.path)
        elif holds_kept or matcher.reincludes_below(path):
            _prune(root, path, matcher, kept)
        else:
            shutil.rmtree(entry.path)


def _hash_tree(digest: hashlib._Hash, top: Path) -> None:
    stack = [("", top)]
    while stack:
        rel, path = stack.pop()
        info = os.lstat(path)
        mode = info.st_mode
        _hash_field(digest, f"{rel}\0{stat.S_IFMT(mode):o}\0{stat.S_IMODE(mode):o}".encode(
            "utf-8", "surrogateescape"))  # fmt: skip
        if stat.S_ISREG(mode):
            _hash_file(digest, path)
        elif stat.S_ISLNK(mode):
            _hash_field(digest, os.fsencode(os.readlink(path)))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            _hash_field(digest, str(info.st_rdev).encode())
        elif stat.S_ISDIR(mode):
            names = sorted(os.listdir(path), reverse=True)  # popped in sorted order
            stack.extend((f"{rel}/{n}" if rel else n, path / n) for n in names)


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    content = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        while chunk := file.read(CHUNK):
            content.update(chunk)
    _hash_field(digest, content.digest())


def _hash_field(digest: hashlib._Hash, value: bytes) -> None:
    # Length-prefixed, so no two different sequences of fields hash alike.
    digest.update(len(value).to_bytes(8, "big"))
    digest.update(value)
