"""Files read and written in chunks from asyncio without blocking the event loop: every open,
read, write, fsync and rename runs in a worker thread, and progress is counted in bytes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20

Progress = Callable[[int], None]


async def read_chunks(
    path: Path, on_progress: Progress | None = None, chunk: int = CHUNK
) -> AsyncIterator[bytes]:
    """The file's bytes in chunks; ``on_progress(bytes so far)`` after each one."""
    source = await asyncio.to_thread(path.open, "rb")
    done = 0
    try:
        while data := await asyncio.to_thread(source.read, chunk):
            done += len(data)
            if on_progress is not None:
                on_progress(done)
            yield data
    finally:
        await asyncio.to_thread(source.close)


def _open_temp(target: Path) -> tuple[BinaryIO, Path]:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    return os.fdopen(fd, "wb"), Path(name)


def _commit(out: BinaryIO, temp: Path, target: Path) -> None:
    out.flush()
    os.fsync(out.fileno())
    out.close()
    temp.chmod(0o644)
    temp.replace(target)


def _discard(out: BinaryIO, temp: Path) -> None:
    with contextlib.suppress(OSError):
        out.close()
    temp.unlink(missing_ok=True)


async def write_chunks(
    chunks: AsyncIterable[bytes], target: Path, on_progress: Progress | None = None
) -> int:
    """Write every chunk to ``target``; the number of bytes written.

    The bytes go to a temporary file next to ``target`` that replaces it only once the stream
    has ended, so a failed or cancelled transfer leaves neither a half file nor a clobbered one.
    """
    out, temp = await asyncio.to_thread(_open_temp, target)
    done = 0
    try:
        async for data in chunks:
            await asyncio.to_thread(out.write, data)
            done += len(data)
            if on_progress is not None:
                on_progress(done)
        await asyncio.to_thread(_commit, out, temp, target)
    except BaseException:
        # Shielded: a cancel must not leave the temporary file behind.
        await asyncio.shield(asyncio.to_thread(_discard, out, temp))
        raise
    return done


async def file_size(path: Path) -> int:
    """The size of ``path`` (``OSError`` if it cannot be read)."""
    return (await asyncio.to_thread(path.stat)).st_size
