"""A container's files through the archive API (what ``docker cp`` uses), for running and stopped
containers alike: list a directory from the headers of ``GET /containers/{id}/archive`` (the
contents are skipped as they stream past, and the listing stops at a cap), download a path into a
local folder (extracted with tarfile's ``data`` filter, so nothing lands outside it), and upload
local files into a directory (``PUT``).

Blocking work — writing the download, packing and extracting tars — runs in threads."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from desktop_app.state.rows import human_size
from desktop_app.state.tar_headers import TarFormatError, TarHeader, TarHeaderReader
from doca.client import EngineClient, EngineError

MAX_ENTRIES = 5000  # entries of one directory shown at most
MAX_HEADERS = 50_000  # headers read at most (a directory's subdirectories stream past too)
IDLE_TIMEOUT = 15.0  # seconds without a byte from the engine before a transfer is given up
CHUNK = 1 << 20
GO_MODE_DIR = 1 << 31  # the directory bit of Go's os.FileMode, as ContainerPathStat gives it

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes if known)

_KINDS = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "link"}
_TYPE_BITS = {"dir": stat.S_IFDIR, "link": stat.S_IFLNK, "file": stat.S_IFREG}


class ArchiveError(EngineError):
    """A transfer that failed on this side (a broken or stalled archive, a bad local folder);
    ``status`` is 0 as for an engine that could not be asked."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


@dataclass(frozen=True)
class FileEntry:
    name: str
    kind: str  # "dir", "file", "link" or "other" (devices, pipes)
    size: int
    mode: int  # permission bits
    mtime: float
    link_target: str = ""

    @property
    def mode_text(self) -> str:
        """``drwxr-xr-x`` as ``ls -l`` prints it."""
        return stat.filemode(_TYPE_BITS.get(self.kind, 0) | self.mode)

    @property
    def sort_key(self) -> tuple[bool, str]:
        return (self.kind != "dir", self.name)


@dataclass(frozen=True)
class DirectoryListing:
    path: str
    entries: tuple[FileEntry, ...]
    complete: bool = True
    problem: str = ""  # why the listing is not complete


@dataclass(frozen=True)
class DownloadResult:
    target: Path  # where the path's copy is, e.g. <folder>/hostname
    size: int  # bytes of archive received
    skipped: tuple[str, ...] = field(default=())  # members the filter refused


def clean_path(path: str) -> str:
    """An absolute, normalized container path (``/`` for the root)."""
    return posixpath.normpath("/" + path.strip().lstrip("/"))


def parent_path(path: str) -> str:
    return posixpath.dirname(clean_path(path))


def child_path(directory: str, name: str) -> str:
    return clean_path(posixpath.join(clean_path(directory), name))


def transfer_text(done: int, total: int | None) -> str:
    return f"{human_size(done)} of {human_size(total)}" if total else human_size(done)


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


async def _chunks(
    source: AsyncIterator[bytes], idle: float, path: str
) -> AsyncGenerator[bytes, None]:
    """``source``'s chunks (the archive of ``path``); a pause longer than ``idle`` seconds
    raises ArchiveError. Closing this generator closes ``source`` (and its request)."""
    try:
        while True:
            try:
                async with asyncio.timeout(idle):
                    chunk = await anext(source)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ArchiveError(
                    f"the engine stopped sending the archive of {path} ({idle:.0f} s without data)"
                ) from None
            yield chunk
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


class _DirectoryScan:
    """Folds archive headers into one directory's entries."""

    def __init__(self, path: str, max_entries: int, max_headers: int) -> None:
        self.path = path
        self.top: list[str] | None = None
        self.entries: list[FileEntry] = []
        self.sizes: dict[str, int] = {}  # regular files by archive name, for hardlinks
        self.headers = 0
        self._max_entries = max_entries
        self._max_headers = max_headers

    @property
    def full(self) -> bool:
        return len(self.entries) >= self._max_entries or self.headers >= self._max_headers

    def add(self, header: TarHeader) -> None:
        self.headers += 1
        parts = _parts(header.name)
        if self.top is None:
            if not header.is_dir:
                raise ArchiveError(f"{self.path} is not a directory")
            self.top = parts
            return
        if header.type in tarfile.REGULAR_TYPES:
            self.sizes[header.name] = header.size
        depth = len(self.top)
        if len(parts) != depth + 1 or parts[:depth] != self.top:
            return
        kind = _KINDS.get(header.type, "file" if header.type in tarfile.REGULAR_TYPES else "other")
        size, link = header.size, header.linkname if header.is_symlink else ""
        if header.type == tarfile.LNKTYPE:  # a hardlink: the same file as an earlier member
            kind, size = "file", self.sizes.get(header.linkname, 0)
        self.entries.append(FileEntry(parts[-1], kind, size, header.mode, header.mtime, link))

    def listing(self, complete: bool, problem: str = "") -> DirectoryListing:
        entries = tuple(sorted(self.entries, key=lambda e: e.sort_key))
        return DirectoryListing(self.path, entries, complete, problem)


async def list_directory(
    client: EngineClient,
    container_id: str,
    path: str,
    *,
    max_entries: int = MAX_ENTRIES,
    max_headers: int = MAX_HEADERS,
    idle_timeout: float = IDLE_TIMEOUT,
) -> DirectoryListing:
    """The entries directly in ``path``. The archive of a directory holds its whole subtree,
    depth first, so reading stops once ``max_entries`` entries or ``max_headers`` headers are
    seen (the listing then says it is incomplete). An error after the first header gives the
    entries read so far and the error as the ``problem``."""
    path = clean_path(path)
    scan = _DirectoryScan(path, max_entries, max_headers)
    reader = TarHeaderReader()
    # The trailing slash makes the engine follow a symlink to a directory.
    request = path if path == "/" else path + "/"
    source = client.containers.get_archive(container_id, request)
    try:
        async with contextlib.aclosing(_chunks(source, idle_timeout, path)) as chunks:
            async for chunk in chunks:
                for header in reader.feed(chunk):
                    scan.add(header)
                    if scan.full:
                        shown, read = len(scan.entries), scan.headers
                        problem = f"showing the first {shown} ({read} archive entries read)"
                        return scan.listing(False, problem)
                if reader.finished:
                    break
    except TarFormatError as exc:
        if scan.top is None:
            raise ArchiveError(str(exc)) from None
        return scan.listing(False, str(exc))
    except EngineError as exc:
        if scan.top is None:
            raise
        return scan.listing(False, exc.message)
    if scan.top is None:
        raise ArchiveError(f"the engine sent an empty archive for {path}")
    if not reader.finished:
        return scan.listing(False, "the archive ended early")
    return scan.listing(True)


def _is_directory(path_stat: dict[str, object]) -> bool:
    mode = path_stat.get("mode")
    return isinstance(mode, int) and bool(mode & GO_MODE_DIR)


async def download(
    client: EngineClient,
    container_id: str,
    path: str,
    folder: Path,
    on_progress: Progress | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> DownloadResult:
    """Copy ``path`` (a file or a whole directory) into the local ``folder``, as ``docker cp
    container:path folder`` does. The archive is spooled in ``folder`` (an unnamed file), then
    extracted with the ``data`` filter: members that would land outside ``folder``, links that
    point outside it and device files are left out and named in ``skipped``."""
    path = clean_path(path)
    if not folder.is_dir():
        raise ArchiveError(f"{folder} is not a folder")
    total: int | None = None
    with contextlib.suppress(EngineError):  # the GET below reports the engine's message
        path_stat = await client.containers.stat_path(container_id, path)
        total = None if _is_directory(path_stat) else int(path_stat.get("size") or 0) or None
    with await asyncio.to_thread(lambda: tempfile.TemporaryFile(dir=folder)) as spool:
        received = 0
        buffer = bytearray()
        source = client.containers.get_archive(container_id, path)
        async with contextlib.aclosing(_chunks(source, idle_timeout, path)) as chunks:
            async for chunk in chunks:
                buffer += chunk
                received += len(chunk)
                if len(buffer) >= CHUNK:
                    await asyncio.to_thread(spool.write, bytes(buffer))
                    buffer.clear()
                if on_progress is not None:
                    on_progress(received, max(total, received) if total else None)
        await asyncio.to_thread(spool.write, bytes(buffer))
        skipped = await asyncio.to_thread(extract_safely, spool, folder)
    name = posixpath.basename(path) or "."
    return DownloadResult(folder / name, received, tuple(skipped))


def extract_safely(archive: IO[bytes], folder: Path) -> list[str]:
    """Extract the tar in ``archive`` into ``folder`` with tarfile's ``data`` filter; members it
    refuses are skipped and their names returned. Blocking."""
    skipped: list[str] = []

    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, dest)
        except tarfile.FilterError:
            skipped.append(member.name)
            return None

    archive.seek(0)
    try:
        with tarfile.open(fileobj=archive, mode="r:") as tar:
            tar.extractall(folder, filter=keep)
    except tarfile.ReadError as exc:
        raise ArchiveError(f"the engine sent a damaged archive: {exc}") from None
    return skipped


def pack(sources: Sequence[Path]) -> IO[bytes]:
    """A tar of the local files and folders ``sources``, each under its own name, in an unnamed
    temporary file (rewound). Symlinks are archived as links. Blocking."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
    try:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for source in sources:
                tar.add(source, arcname=source.name)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


async def upload(
    client: EngineClient,
    container_id: str,
    directory: str,
    sources: Sequence[Path],
    on_progress: Progress | None = None,
) -> None:
    """Copy local files and folders into the container's ``directory`` (``docker cp sources
    container:directory``). Progress counts the archive's bytes as they are sent."""
    try:
        spool = await asyncio.to_thread(pack, sources)
    except OSError as exc:
        raise ArchiveError(f"cannot read {exc.filename or 'the files'}: {exc.strerror}") from None
    try:
        total = await asyncio.to_thread(lambda: spool.seek(0, 2))
        spool.seek(0)

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            while chunk := await asyncio.to_thread(spool.read, CHUNK):
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent, total)
                yield chunk

        await client.containers.put_archive(container_id, clean_path(directory), body())
    finally:
        spool.close()
