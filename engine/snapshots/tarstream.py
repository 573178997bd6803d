"""Reading untrusted tar streams strictly: what layer extraction and ``docker cp`` share.

Python's tarfile takes a damaged header after the first member for the end of the archive, so a
stream cut in the middle would pass as a shorter, valid one; here it is an error, as in Go.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO, Self

CHUNK = 1 << 20


class StrictTarInfo(tarfile.TarInfo):
    """Reports damaged headers, which tarfile takes for the end of the archive after member one."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        try:
            return super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as e:
            # Like Go's archive/tar: a stream ending on a block boundary or a zero block is a clean
            # end; a partial or garbled header means the stream was cut or corrupted.
            if not buf or (len(buf) == tarfile.BLOCKSIZE and buf.count(b"\0") == len(buf)):
                raise
            raise tarfile.ReadError(f"unexpected end of data or corrupt header ({e})") from None


def open_stream(stream: BinaryIO) -> tarfile.TarFile:
    """A sequential reader of a (possibly compressed) tar; every defect is a tarfile.TarError."""
    try:
        return tarfile.open(fileobj=stream, mode="r|*", tarinfo=StrictTarInfo)
    except TypeError as e:  # tarfile's gzip header parser trips over a cut-off header
        raise tarfile.ReadError("truncated gzip header") from e


def mtime_ns(member: tarfile.TarInfo) -> int:
    """The member's mtime in ns; ValueError or OverflowError for NaN, infinity or out of range."""
    value = int(member.mtime * 1_000_000_000)
    if not -(2**63) <= value < 2**63:
        raise OverflowError(f"mtime {member.mtime} out of range")
    return value


def drain(tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    """Read a skipped member's data so a stream cut inside it is still reported."""
    data = tar.extractfile(member) if member.size else None
    if data is not None:
        while data.read(CHUNK):
            pass
