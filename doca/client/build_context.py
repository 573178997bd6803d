"""The build context of a classic build, made as the docker CLI makes it (cli/command/image/build
and moby's archive.TarWithOptions).

* the context directory and the Dockerfile are resolved through symlinks; ``-f`` is relative to
  the working directory, the default ``Dockerfile`` (or ``dockerfile``) to the context;
* ``.dockerignore`` excludes with Docker's rules, but the Dockerfile and ``.dockerignore`` itself
  are always sent: the engine drops them after reading if the patterns exclude them;
* an excluded directory is skipped whole unless a ``!`` pattern may re-include something below
  it; then the walk descends without sending the directory entry;
* entries come in lexical order per directory, owned by 0:0 without user or group names,
  hard links as links to the first name seen; sockets and device nodes are left out;
* a Dockerfile from outside the context (or from stdin) is added as ``.dockerfile.<random>``,
  and that name appended to ``.dockerignore`` so that COPY never sees it.
"""

from __future__ import annotations

import gzip
import os
import secrets
import stat
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from engine.build.ignore import PatternMatcher, read_patterns
from engine.errors import InvalidParameter

DEFAULT_DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
STDIN = "-"
# How much of stdin the docker CLI peeks at to tell an archive from a Dockerfile.
ARCHIVE_PEEK = 1024
_BLOCK = 512
_CHUNK = 1 << 20
_COMPRESSION_MAGIC = (b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class _Output(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ContextError(Exception):
    """A context that cannot be sent; ``str()`` is the docker CLI's message."""


@dataclass(frozen=True)
class LocalContext:
    root: Path  # absolute, symlinks resolved
    dockerfile: str  # relative to root, "/"-separated ("../x" outside it), or "-" for stdin
    dockerfile_path: Path | None  # resolved; None for a Dockerfile read from stdin

    @property
    def outside(self) -> bool:
        return self.dockerfile.startswith("../")


def _go_error(op: str, error: OSError, path: object) -> str:
    """An OSError worded as Go's os.PathError: ``lstat /x: no such file or directory``."""
    reason = error.strerror or str(error)
    return f"{op} {error.filename or path}: {reason[:1].lower()}{reason[1:]}"


def local_context(path: str, dockerfile: str = "") -> LocalContext:
    """The context directory ``path`` and its Dockerfile (``-f``; "" for the default, "-" for
    stdin), as GetContextFromLocalDir resolves them."""
    try:
        root = Path(os.path.realpath(os.path.abspath(path), strict=True))
    except OSError as error:
        raise ContextError(
            "unable to prepare context: unable to evaluate symlinks in context path: "
            + _go_error("lstat", error, path)
        ) from error
    if not root.is_dir():
        raise ContextError(f"unable to prepare context: context must be a directory: {root}")
    if dockerfile == STDIN:
        return LocalContext(root, STDIN, None)
    if dockerfile:
        candidate = Path(os.path.abspath(dockerfile))
    else:
        candidate = root / DEFAULT_DOCKERFILE
        if not os.path.lexists(candidate) and os.path.lexists(root / "dockerfile"):
            candidate = root / "dockerfile"
    try:
        resolved = Path(os.path.realpath(candidate, strict=True))
    except OSError as error:
        raise ContextError(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
            + _go_error("lstat", error, candidate)
        ) from error
    relative = os.path.relpath(resolved, root).replace(os.sep, "/")
    return LocalContext(root, relative, resolved)


def read_dockerignore(root: Path) -> list[str]:
    try:
        text = (root / DOCKERIGNORE).read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise ContextError(f"error reading .dockerignore: {error.strerror}") from error
    return read_patterns(text)


def _matcher(patterns: list[str]) -> PatternMatcher:
    try:
        return PatternMatcher(patterns)
    except InvalidParameter as error:
        raise ContextError(f"error checking context: {error.message}") from error


def trim_build_files(excludes: list[str], dockerfile: str, from_stdin: bool) -> list[str]:
    """The patterns with the Dockerfile and .dockerignore re-included (TrimBuildFilesFromExcludes):
    the engine needs both, and drops them itself when they are excluded."""
    matcher = _matcher(excludes)
    trimmed = list(excludes)
    if matcher.excluded(DOCKERIGNORE):
        trimmed.append("!" + DOCKERIGNORE)
    if matcher.excluded(dockerfile) and not from_stdin:
        trimmed.append("!" + dockerfile)
    return trimmed


def walk(root: Path, matcher: PatternMatcher, directory: str = "") -> Iterator[tuple[str, Path]]:
    """(name in the context, path) of what goes into the context, in the order the docker CLI
    sends it."""
    with os.scandir(root / directory if directory else root) as scan:
        entries = sorted(scan, key=lambda entry: os.fsencode(entry.name))
    for entry in entries:
        name = f"{directory}/{entry.name}" if directory else entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        if matcher.excluded(name, is_dir):
            if is_dir and matcher.reincludes_below(name):
                yield from walk(root, matcher, name)
            continue
        yield name, Path(entry.path)
        if is_dir:
            yield from walk(root, matcher, name)


def _header(name: str, info: os.stat_result, path: Path) -> tarfile.TarInfo | None:
    """The tar header of one context entry, or None for what a context leaves out."""
    header = tarfile.TarInfo(name)
    header.mode = stat.S_IMODE(info.st_mode)
    header.mtime = int(info.st_mtime)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        header.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        header.type = tarfile.SYMTYPE
        header.linkname = os.readlink(path)
    elif stat.S_ISFIFO(mode):
        header.type = tarfile.FIFOTYPE
    elif stat.S_ISREG(mode):
        header.size = info.st_size
    else:
        return None
    return header


class _TarWriter:
    """Writes tar entries; ends the archive with its two zero blocks, without the padding to
    10 KiB that Python's tarfile adds, so the size matches what the docker CLI sends."""

    def __init__(self, out: _Output) -> None:
        self._out = out
        self._seen: dict[tuple[int, int], str] = {}  # (device, inode) -> first name

    def add_bytes(self, name: str, data: bytes, mode: int = 0o600) -> None:
        header = tarfile.TarInfo(name)
        header.mode, header.size, header.mtime = mode, len(data), int(time.time())
        self._write(header)
        self._out.write(data)
        self._pad(len(data))

    def add_file(self, name: str, path: Path, replace: bytes | None = None) -> None:
        """``path`` under ``name``; ``replace`` stands for a regular file's content."""
        info = os.lstat(path)
        header = _header(name, info, path)
        if header is None:
            return
        if not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1:
            first = self._seen.setdefault((info.st_dev, info.st_ino), name)
            if first != name:
                header.type, header.linkname, header.size = tarfile.LNKTYPE, first, 0
        if header.type == tarfile.REGTYPE and replace is not None:
            header.size = len(replace)
            self._write(header)
            self._out.write(replace)
            self._pad(len(replace))
        elif header.type == tarfile.REGTYPE:
            self._write(header)
            self._copy(path, header.size)
        else:
            self._write(header)

    def close(self) -> None:
        self._out.write(b"\0" * (2 * _BLOCK))

    def _write(self, header: tarfile.TarInfo) -> None:
        header.uid = header.gid = 0
        header.uname = header.gname = ""
        self._out.write(header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _copy(self, path: Path, size: int) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except PermissionError as error:
            raise ContextError(f"error checking context: no permission to read from '{path}'") \
                from error  # fmt: skip
        left = size
        with os.fdopen(fd, "rb") as source:
            while left > 0 and (chunk := source.read(min(_CHUNK, left))):
                self._out.write(chunk)
                left -= len(chunk)
        self._out.write(b"\0" * left)  # a file that shrank meanwhile keeps its announced size
        self._pad(size)

    def _pad(self, size: int) -> None:
        self._out.write(b"\0" * (-size % _BLOCK))


def write_context(
    out: BinaryIO,
    context: LocalContext,
    stdin_dockerfile: bytes | None = None,
    compress: bool = False,
) -> str:
    """Write ``context`` to ``out`` as a tar (gzip-compressed with ``compress``); the name of
    the Dockerfile inside it, for ``POST /build``'s ``dockerfile``."""
    from_stdin = context.dockerfile == STDIN
    excludes = trim_build_files(read_dockerignore(context.root), context.dockerfile, from_stdin)
    matcher = _matcher(excludes)
    extra: bytes | None = None
    if from_stdin:
        extra = stdin_dockerfile or b""
    elif context.outside and context.dockerfile_path is not None:
        extra = context.dockerfile_path.read_bytes()
    # As AddDockerfileToBuildContext: a name nothing in the context can clash with.
    name = f".dockerfile.{secrets.token_hex(10)}" if extra is not None else context.dockerfile
    zipped = gzip.GzipFile(fileobj=out, mode="wb", mtime=0) if compress else None
    try:
        writer = _TarWriter(zipped or out)
        ignore_seen = False
        for entry, path in walk(context.root, matcher):
            replace = None
            if entry == DOCKERIGNORE and extra is not None and path.is_file():
                replace = path.read_bytes() + f"\n{name}\n".encode()
                ignore_seen = True
            writer.add_file(entry, path, replace)
        if extra is not None:
            writer.add_bytes(name, extra)
            if not ignore_seen:
                writer.add_bytes(DOCKERIGNORE, f"{DOCKERIGNORE}\n{name}\n".encode())
        writer.close()
    finally:
        if zipped is not None:
            zipped.close()
    return name


def write_dockerfile_context(out: BinaryIO, dockerfile: bytes) -> str:
    """A context of just a Dockerfile (``docker build - < Dockerfile``); its name."""
    writer = _TarWriter(out)
    writer.add_bytes(DEFAULT_DOCKERFILE, dockerfile, mode=0o644)
    writer.close()
    return DEFAULT_DOCKERFILE


def is_archive(head: bytes) -> bool:
    """Whether stdin's first bytes start a (possibly compressed) tar rather than a Dockerfile."""
    if head.startswith(_COMPRESSION_MAGIC):
        return True
    try:
        tarfile.TarInfo.frombuf(head[:_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True
