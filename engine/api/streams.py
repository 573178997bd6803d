"""Streaming helpers: newline-delimited JSON progress, request bodies spooled to disk, and
bytes produced by a worker thread sent to the client with back-pressure."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web

from engine.api.version import API_VERSION_HEADERS
from engine.errors import EngineError, storage_error
from engine.images.transfer_progress import ProgressQueue

T = TypeVar("T")
log = logging.getLogger(__name__)
SPOOL_CHUNK = 1 << 20


class JsonStream:
    """A newline-delimited JSON response that starts only when its first message is ready, so
    that an error before then still gets a proper status code from the error middleware."""

    def __init__(self, request: web.Request, content_type: str = "application/json") -> None:
        self.request = request
        self.response = web.StreamResponse(
            headers={**API_VERSION_HEADERS, "Content-Type": content_type}
        )

    @property
    def started(self) -> bool:
        return self.response.prepared

    async def send(self, message: dict[str, Any]) -> None:
        if not self.response.prepared:
            await self.response.prepare(self.request)
        await self.response.write(orjson.dumps(message) + b"\r\n")

    async def finish_headers(self) -> None:
        """Send the headers now: for streams a client waits on before anything happens."""
        if not self.response.prepared:
            await self.response.prepare(self.request)

    async def send_error(self, message: str, code: int | None = None) -> None:
        detail: dict[str, Any] = {"message": message}
        if code:
            detail["code"] = code  # the docker CLI exits with it
        await self.send({"errorDetail": detail, "error": message})

    async def finish(self) -> web.StreamResponse:
        if not self.response.prepared:
            await self.response.prepare(self.request)
        await self.response.write_eof()
        return self.response


async def relay(stream: JsonStream, job: Callable[[ProgressQueue], Awaitable[object]]) -> None:
    """Run ``job`` while sending what it emits; an error before the first message is raised
    (and becomes the HTTP status), later ones end the stream as an error message."""
    queue = ProgressQueue()
    task = asyncio.ensure_future(job(queue))
    task.add_done_callback(lambda _: queue.close())
    try:
        async for message in queue:
            await stream.send(message)
        await task
    except EngineError as exc:
        if not stream.started:
            raise
        await stream.send_error(exc.message, getattr(exc, "code", None))
    except OSError as exc:
        error = storage_error(exc)
        if error is None or not stream.started:
            raise
        await stream.send_error(error.message)
    finally:
        if not task.done():  # the client went away: stop the work
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def run_with_progress(
    stream: JsonStream, work: Callable[[Callable[[dict[str, Any]], None]], T]
) -> T:
    """Run ``work(progress)`` in a thread, relaying each progress message to the client as
    it comes. Errors raised by ``work`` propagate to the caller."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def progress(message: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def run() -> T:
        try:
            return work(progress)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        while (message := await queue.get()) is not None:
            await stream.send(message)
    finally:
        if not task.done():
            # The client went away; the work cannot be interrupted safely, so let it finish.
            await asyncio.shield(task)
    return task.result()


@asynccontextmanager
async def spooled_body(request: web.Request, directory: Path) -> AsyncIterator[Path]:
    """The request body in a temp file on the data root's filesystem, deleted afterwards."""
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            buffer = bytearray()
            async for chunk in request.content.iter_chunked(SPOOL_CHUNK):
                buffer += chunk
                if len(buffer) >= SPOOL_CHUNK:
                    await asyncio.to_thread(out.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(out.write, bytes(buffer))
        yield path
    finally:
        path.unlink(missing_ok=True)


class _ThreadWriter(io.RawIOBase):
    """A file object for a worker thread whose writes are sent by the event loop. Each write
    waits for room in the queue, and fails once the client is gone, so the thread stops."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        self._loop = loop
        self._queue = queue
        self.gone = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.gone.is_set():
            raise BrokenPipeError("the client went away")
        chunk = bytes(data)
        if chunk:
            asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()
        return len(chunk)


async def stream_from_thread(
    request: web.Request,
    content_type: str,
    produce: Callable[[io.RawIOBase], None],
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Send what ``produce(file)`` writes in a worker thread; the queue bounds memory use. An
    error before the first byte still becomes a proper error answer."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)
    writer = _ThreadWriter(loop, queue)

    def run() -> None:
        try:
            produce(writer)
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

    task = asyncio.ensure_future(asyncio.to_thread(run))
    response = web.StreamResponse(
        headers={**API_VERSION_HEADERS, **(headers or {}), "Content-Type": content_type}
    )
    try:
        chunk = await queue.get()
        if chunk is None:
            await task  # raises the producer's error before anything was sent
        await response.prepare(request)
        while chunk is not None:
            await response.write(chunk)
            chunk = await queue.get()
        await task
    except BaseException as exc:
        # Stop the producer, and drain so that it is never left blocked on a full queue.
        writer.gone.set()
        while not task.done():
            if await queue.get() is None:
                break
        if not response.prepared or not isinstance(exc, Exception):
            raise
        # Half the body is sent: no error answer can follow it. Cut the connection so the
        # client sees the stream end early instead of waiting for the rest.
        log.error("%s %s: stream broken off: %s", request.method, request.path, exc)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response
