"""Reading the tars a build receives — the build context, and ADD's local archives — and
unpacking them with ``TreeWriter``.

The compression is recognised by its magic bytes, as moby's ``DecompressStream`` does: plain,
gzip, bzip2, xz or zstd. Member names are cleaned and taken from the extraction directory: a
leading ``/`` is dropped, and a name that still climbs above it with ``..`` is refused, as
moby's ``Unpack`` refuses it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zlib
from typing import BinaryIO, cast

import zstandard

from engine.build.pathmatch import clean
from engine.build.treewriter import CHUNK, Kind, Node, TreeWriter
from engine.containers.copy_in import quote
from engine.errors import InvalidParameter, tar_error_text
from engine.snapshots import tarstream

_MAGIC_LEN = 8
_PAX_XATTR_PREFIX = "SCHILY.xattr."
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


def open_tar(stream: BinaryIO) -> tarfile.TarFile | None:
    """A sequential reader of the (possibly compressed) tar in ``stream``; None when the
    stream is empty. A defect anywhere in it is a tarfile.TarError."""
    head = b""
    while len(head) < _MAGIC_LEN:
        more = stream.read(_MAGIC_LEN - len(head))
        if not more:
            break
        head += more
    if not head:
        return None
    raw = cast(BinaryIO, io.BufferedReader(_Rejoined(head, stream), CHUNK))
    decompressed = io.BufferedReader(_Checked(_decompressor(head, raw)), CHUNK)
    return tarfile.open(fileobj=decompressed, mode="r|", tarinfo=tarstream.StrictTarInfo)


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts with a tar header, compressed or not (moby's IsArchivePath)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return False
    with os.fdopen(fd, "rb") as file:
        try:
            tar = open_tar(cast(BinaryIO, file))
            if tar is None:
                return False
            with tar:
                return tar.next() is not None
        except (tarfile.TarError, OSError):
            return False


def extract(stream: BinaryIO, writer: TreeWriter, *, keep_owners: bool) -> None:
    """Unpack the tar in ``stream`` with ``writer``. Owners come from the tar only when
    ``keep_owners``; device nodes only where the writer allows them."""
    try:
        tar = open_tar(stream)
        if tar is None:
            return
        with tar:
            for member in tar:
                _extract_member(tar, member, writer, keep_owners)
    except (tarfile.TarError, EOFError) as e:
        raise InvalidParameter(f"Error processing tar file: {tar_error_text(e)}") from e
    writer.finish()


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, writer: TreeWriter, keep_owners: bool
) -> None:
    if "\x00" in member.name or "\x00" in member.linkname:
        raise InvalidParameter(f"invalid tar member name {quote(member.name)}")
    name = clean(member.name.lstrip("/"))
    if name == ".." or name.startswith("../"):
        raise InvalidParameter(f"invalid entry name {quote(member.name)}")
    node = _node(member, keep_owners)
    if name == "." or node is None:
        tarstream.drain(tar, member)
        return
    writer.add(name, node, tar.extractfile(member) if node.kind is Kind.FILE else None)


def _node(member: tarfile.TarInfo, keep_owners: bool) -> Node | None:
    if member.isreg():
        kind = Kind.FILE
    elif member.isdir():
        kind = Kind.DIR
    elif member.issym():
        kind = Kind.SYMLINK
    elif member.islnk():
        kind = Kind.HARDLINK
    elif member.isfifo():
        kind = Kind.FIFO
    elif member.ischr():
        kind = Kind.CHAR
    elif member.isblk():
        kind = Kind.BLOCK
    else:
        return None  # nothing Docker would create either
    try:
        mtime_ns = tarstream.mtime_ns(member)
    except (OverflowError, ValueError) as e:
        raise InvalidParameter(f"invalid tar member {quote(member.name)}: bad mtime") from e
    xattrs = {
        key[len(_PAX_XATTR_PREFIX) :]: value.encode("utf-8", "surrogateescape")
        for key, value in member.pax_headers.items()
        if key.startswith(_PAX_XATTR_PREFIX)
    }
    return Node(
        kind,
        mode=member.mode & 0o7777,
        mtime_ns=mtime_ns,
        owner=(member.uid, member.gid) if keep_owners else None,
        linkname=member.linkname,
        rdev=os.makedev(member.devmajor, member.devminor) if kind in (Kind.CHAR, Kind.BLOCK) else 0,
        xattrs=xattrs,
    )


def _decompressor(head: bytes, raw: BinaryIO) -> BinaryIO:
    if head.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(raw))
    if head.startswith(b"\x1f\x8b\x08"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw))
    if head.startswith(_ZSTD_MAGIC) or _is_zstd_skippable(head):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return cast(BinaryIO, reader)
    return raw


def _is_zstd_skippable(head: bytes) -> bool:
    return len(head) >= 8 and int.from_bytes(head[:4], "little") & 0xFFFFFFF0 == 0x184D2A50


class _Rejoined(io.RawIOBase):
    """``stream`` with the bytes already read from it put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Checked(io.RawIOBase):
    """A decompressing reader whose failures (bad data, a cut stream) read as tar errors, so
    they are told apart from failures to write what was read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._stream.read(len(buffer))
        except _DECOMPRESS_ERRORS as e:
            raise tarfile.ReadError(tar_error_text(e)) from e
        buffer[: len(data)] = data
        return len(data)
