"""Bounds on API clients, so that slow or idle ones cannot hold the engine.

A new connection has ``api_header_timeout`` to send its first whole request head; a kept-alive
one ``api_idle_timeout`` from the end of an answer to its next whole request head (aiohttp's
keep-alive timeout, which also bounds a new connection); a listener serves
``api_max_connections`` at once; a request line or header field is at most 64 KiB. Once a
request is in, nothing limits how long it runs: attach, logs -f and events stream for hours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from engine.config import EngineConfig

log = logging.getLogger("doca.engine")

# aiohttp's 8 KiB per line and per field would refuse the docker CLI's X-Registry-Config of
# a user logged in to a few registries, and long build-arg query strings; Go allows 1 MiB.
MAX_LINE_SIZE = 64 * 1024
MAX_FIELD_SIZE = 64 * 1024
# The blank line that ends a request head, with CRLF or bare LF line ends.
_HEAD_ENDS = (b"\n\r\n", b"\n\n")


def protocol_options(config: EngineConfig) -> dict[str, Any]:
    """aiohttp's per-connection settings (``web.AppRunner`` keyword arguments)."""
    return {
        "keepalive_timeout": config.api_idle_timeout,
        "max_line_size": MAX_LINE_SIZE,
        "max_field_size": MAX_FIELD_SIZE,
    }


class _Listener:
    """One listening socket's clients: how many are open, and what a new one is given."""

    def __init__(self, name: str, factory: Callable[[], asyncio.Protocol], config: EngineConfig):
        self.name = name
        self.factory = factory
        self.header_timeout = config.api_header_timeout
        self._max = config.api_max_connections
        self._open: set[asyncio.BaseTransport] = set()
        self._refusing = False

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        if not self._max:
            return True
        # Counted by transport rather than by protocol: attach swaps the protocol under it.
        self._open = {t for t in self._open if not t.is_closing()}
        if len(self._open) >= self._max:
            if not self._refusing:
                log.warning("%s: %d connections open, refusing more", self.name, self._max)
            self._refusing = True
            return False
        self._refusing = False
        self._open.add(transport)
        return True


class _FirstHead(asyncio.Protocol):
    """Stands in front of aiohttp's protocol until the connection's first request head is in,
    then steps aside. aiohttp bounds the wait for every head only by its keep-alive timeout,
    counted from the connection's start: long enough for idle clients, too long for one that
    opened a connection and dribbles (or never sends) its first request."""

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._listener.admit(transport):
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._listener.header_timeout, self._expire)
        self._inner = self._listener.factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        edge = self._tail + data[:2]
        done = any(end in data or end in edge for end in _HEAD_ENDS)
        self._tail = data[-2:]
        self._inner.data_received(data)
        if done:
            self._step_aside()

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def _step_aside(self) -> None:
        self._cancel_timer()
        transport = self._transport
        if transport is not None and self._inner is not None and transport.get_protocol() is self:
            transport.set_protocol(self._inner)

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            log.debug(
                "%s: no request within %gs of connecting, closing",
                self._listener.name,
                self._listener.header_timeout,
            )
            self._transport.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def bounded_protocol(
    name: str, factory: Callable[[], asyncio.Protocol], config: EngineConfig
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for one listener: ``factory``'s protocols (aiohttp's), each behind
    the first-head deadline, and no more of them at once than the listener allows."""
    listener = _Listener(name, factory, config)
    return lambda: _FirstHead(listener)
