"""Taking over a connection for attach and exec: ``Upgrade: tcp`` answered with 101, then raw
bytes both ways over the same socket, as dockerd does after its hijack."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from engine.api.version import API_VERSION_HEADERS

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class _RawReader:
    """A payload parser for aiohttp's protocol that hands every byte to a queue."""

    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self._queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(b"")


class _HalfCloseProtocol(asyncio.Protocol):
    """Stands between the transport and aiohttp's protocol to survive the client's EOF."""

    def __init__(
        self, inner: asyncio.Protocol, incoming: asyncio.Queue[bytes], lost: asyncio.Event
    ) -> None:
        self._inner = inner
        self._incoming = incoming
        self._lost = lost

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool:
        self._incoming.put_nowait(b"")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._incoming.put_nowait(b"")
        self._lost.set()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class HijackedStream:
    """The client's connection after the hijack (or a plain streaming answer when the client
    did not ask to upgrade: then there is no stdin)."""

    def __init__(self, request: web.Request, tty: bool) -> None:
        self.request = request
        self.upgraded = request.headers.get("Upgrade", "").lower() == "tcp"
        self.content_type = RAW_STREAM if tty else MULTIPLEXED_STREAM
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self._response: web.StreamResponse | None = None
        self._closed = False
        self.lost = asyncio.Event()  # set when the client's connection is gone

    async def start(self) -> None:
        headers = {**API_VERSION_HEADERS, "Content-Type": self.content_type}
        if self.upgraded:
            headers.update({"Connection": "Upgrade", "Upgrade": "tcp"})
            response = web.StreamResponse(status=101, reason="UPGRADED", headers=headers)
        else:
            response = web.StreamResponse(status=200, headers=headers)
        protocol = self.request.protocol
        transport = self.request.transport
        if self.upgraded and protocol is not None and transport is not None:
            # A client that sends no stdin half-closes its side (docker's CloseWrite). asyncio
            # closes the whole transport on EOF unless the protocol asks to keep it open, and
            # the output still has to reach the client: keep it open, and tell our reader.
            transport.set_protocol(_HalfCloseProtocol(protocol, self._incoming, self.lost))
        await response.prepare(self.request)
        self._response = response
        if self.upgraded and protocol is not None:
            protocol.set_parser(_RawReader(self._incoming))  # type: ignore[arg-type]
        else:
            self._incoming.put_nowait(b"")

    async def read(self) -> bytes:
        """The next bytes from the client; ``b""`` once it closed its side."""
        return await self._incoming.get()

    async def write(self, data: bytes) -> None:
        if self._response is None or self._closed:
            return
        try:
            await self._response.write(data)
        except (ConnectionResetError, RuntimeError):
            self._closed = True

    @property
    def closed(self) -> bool:
        transport = self.request.transport
        return self._closed or transport is None or transport.is_closing()

    async def close(self) -> web.StreamResponse:
        assert self._response is not None
        if not self._closed:
            self._closed = True
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await self._response.write_eof()
            if self.upgraded and self.request.transport is not None:
                self.request.transport.close()
        return self._response
