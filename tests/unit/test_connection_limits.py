"""The first-head deadline and the connection cap, around a stand-in for aiohttp's protocol."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.config import EngineConfig
from engine.connection_limits import bounded_protocol, protocol_options


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.closing = False
        self.aborted = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True


class App(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.made = False
        self.lost = False

    def connection_made(self, transport: Any) -> None:
        self.made = True

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def open_connection(factory: Any) -> tuple[Transport, asyncio.BaseProtocol]:
    transport = Transport()
    protocol = factory()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    return transport, protocol


def make(config: EngineConfig) -> tuple[Any, list[App]]:
    apps: list[App] = []

    def app() -> App:
        apps.append(App())
        return apps[-1]

    return bounded_protocol("unix:///test.sock", app, config), apps


@pytest.mark.parametrize(
    "chunks",
    [
        [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
        [b"GET / HTTP/1.1\r\nHost: a\r\n", b"\r\n"],
        [b"GET / HTTP/1.1\r\nHost: a\r", b"\n\r\n"],
        [b"GET / HTTP/1.1\r\nHost: a\r\n\r", b"\n"],
        [b"GET / HTTP/1.1\nHost: a\n\n"],
        [b"G", b"E", b"T / HTTP/1.1\n", b"\n", b"body"],
    ],
)
async def test_steps_aside_once_the_first_head_is_in(chunks: list[bytes]) -> None:
    factory, apps = make(EngineConfig(api_header_timeout=0.05))
    transport, guard = open_connection(factory)
    assert isinstance(guard, asyncio.Protocol)
    for chunk in chunks:
        guard.data_received(chunk)
    assert transport.get_protocol() is apps[0]
    assert apps[0].received == b"".join(chunks)
    await asyncio.sleep(0.1)
    assert not transport.aborted  # the deadline went with the guard


async def test_an_unfinished_head_is_cut_off_at_the_deadline() -> None:
    factory, apps = make(EngineConfig(api_header_timeout=0.05))
    transport, guard = open_connection(factory)
    assert isinstance(guard, asyncio.Protocol)
    guard.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n")
    await asyncio.sleep(0.1)
    assert transport.aborted
    assert transport.get_protocol() is guard
    guard.connection_lost(None)
    assert apps[0].lost


async def test_the_cap_refuses_connections_over_it_until_some_close() -> None:
    factory, apps = make(EngineConfig(api_max_connections=2))
    first, _ = open_connection(factory)
    second, _ = open_connection(factory)
    third, _ = open_connection(factory)
    assert third.aborted and not first.aborted and not second.aborted
    assert len(apps) == 2  # the refused one never reached the application
    first.close()
    fourth, _ = open_connection(factory)
    assert not fourth.aborted and len(apps) == 3


async def test_no_cap_with_zero() -> None:
    factory, apps = make(EngineConfig(api_max_connections=0))
    transports = [open_connection(factory)[0] for _ in range(50)]
    assert not any(t.aborted for t in transports) and len(apps) == 50


def test_protocol_options_raise_aiohttps_header_limits() -> None:
    options = protocol_options(EngineConfig(api_idle_timeout=7.0))
    assert options["keepalive_timeout"] == 7.0
    assert options["max_line_size"] >= 32 * 1024
    assert options["max_field_size"] >= 32 * 1024
