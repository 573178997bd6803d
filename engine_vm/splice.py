"""Join two byte streams, each way until its end, as the engine's socket needs it carried.

Each direction ends on its own: an end of input is passed on as a half-close, so a hijacked
``docker attach``/``exec`` whose client has closed stdin still gets its output, and a long
stream (``events``, ``logs -f``) runs as long as both sides keep it open. Buffers are bounded:
a direction reads the next chunk only once the previous one has drained to the other side.
Used on both sides of the VM: the host's forwarder and the guest's bridge.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024
#: How long closing waits for a transport to flush before it is aborted.
CLOSE_TIMEOUT = 5.0

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Copy ``reader`` to ``writer`` until the end of input, then half-close ``writer``;
    returns the number of bytes copied."""
    copied = 0
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()
        copied += len(chunk)
    if writer.can_write_eof() and not writer.is_closing():
        with contextlib.suppress(OSError):
            writer.write_eof()
    return copied


async def splice(one: Stream, other: Stream) -> None:
    """Copy ``one`` to ``other`` and back until both directions have ended or either fails;
    both are closed on return."""
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(pump(one[0], other[1]))
            group.create_task(pump(other[0], one[1]))
    except* (ConnectionError, OSError):
        pass  # a peer went away: nothing more to carry either way
    finally:
        await close(one[1])
        await close(other[1])


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()
