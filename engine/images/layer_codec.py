"""Layer compression as registries carry it: reading gzip, zstd or plain tars, writing gzip.

Reading sniffs the magic bytes rather than trusting the media type, as dockerd does, and uses
ISA-L's gzip when it is installed (several times faster than zlib). Writing always uses zlib
with a fixed header, so one layer compresses to the same bytes on every push and machine: a
pushed layer keeps its digest, and the registry can be asked whether it has it already.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO, cast

from engine.errors import InvalidParameter

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
# zlib's default trade-off: pushes are bound by the network more often than by the CPU.
GZIP_LEVEL = 6
# RFC 1952 header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
_GZIP_HEADER = GZIP_MAGIC + b"\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff"


@functools.cache
def _isal_gzip() -> Any:
    """ISA-L's threaded gzip module, or None where it is not installed (imported at the first
    gzip layer: an engine that pulls nothing need not hold it)."""
    try:
        from isal import igzip_threaded
    except ImportError:
        return None
    return igzip_threaded


def compression_of(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from a blob's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


@contextlib.contextmanager
def open_uncompressed(raw: BinaryIO) -> Iterator[IO[bytes]]:
    """``raw`` (a layer as downloaded) as the uncompressed tar stream it holds."""
    buffered = io.BufferedReader(raw, CHUNK)  # type: ignore[type-var]
    kind = compression_of(buffered.peek(4)[:4])
    if kind == "gzip":
        isal_gzip = _isal_gzip()
        if isal_gzip is not None:
            # One worker thread decompresses ahead while this one hashes and writes.
            with isal_gzip.open(buffered, "rb", threads=1) as stream:
                yield cast(IO[bytes], stream)
        else:
            with gzip.GzipFile(fileobj=buffered, mode="rb") as stream:
                yield cast(IO[bytes], stream)
    elif kind == "zstd":
        try:
            import zstandard
        except ImportError as exc:
            raise InvalidParameter("zstd-compressed layers need the zstandard package") from exc
        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
        with reader:
            yield cast(IO[bytes], reader)
    else:
        yield buffered


def gzip_deterministic(
    source: BinaryIO, out: BinaryIO, progress: Callable[[int], None] | None = None
) -> tuple[str, int]:
    """Compress ``source`` into ``out`` as gzip whose bytes depend on the input alone.

    Returns the digest and size of the compressed bytes. ``progress`` is called with the
    number of input bytes read so far.
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    sha = hashlib.sha256()
    crc = 0
    size = 0
    written = 0

    def put(data: bytes) -> None:
        nonlocal written
        if data:
            sha.update(data)
            out.write(data)
            written += len(data)

    put(_GZIP_HEADER)
    while block := source.read(CHUNK):
        crc = zlib.crc32(block, crc)
        size += len(block)
        put(compressor.compress(block))
        if progress is not None:
            progress(size)
    put(compressor.flush())
    put(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return "sha256:" + sha.hexdigest(), written
