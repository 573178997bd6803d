"""The socket path host → guest → engine, without a VM: the host's forwarder and the guest's
bridge joined over loopback TCP (as QEMU's port forward joins them), a unix-socket engine
stand-in behind. Covers half-closes (hijacked attach/exec), long streams and the token."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from engine_vm.forward import Forwarder, tcp_connector
from engine_vm.guest.bridge import Bridge

TOKEN = b"0123456789abcdef" * 4
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _echo_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Like a hijacked exec: reads stdin to its end, then still writes output."""
    data = await reader.read()
    writer.write(
        b"got " + hashlib.sha256(data).hexdigest().encode() + b" " + str(len(data)).encode()
    )
    await writer.drain()
    writer.close()


async def _stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Like ``logs -f``: a long stream of output while the client sends nothing."""
    for i in range(256):
        writer.write(bytes([i]) * 16384)
        await writer.drain()
    writer.close()


class Path3:
    """Engine stand-in on a unix socket, the guest's bridge on loopback TCP, and the host's
    forwarder on a unix socket; all torn down by ``close``."""

    def __init__(self, tmp: Path, handler: Handler) -> None:
        self.tmp = tmp
        self.handler = handler
        self.engine_connections = 0

    async def start(self) -> None:
        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.engine_connections += 1
            await self.handler(reader, writer)

        self.engine = await asyncio.start_unix_server(counted, path=str(self.tmp / "engine.sock"))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self.bridge = Bridge(listener, TOKEN, str(self.tmp / "engine.sock"))
        await self.bridge.start()
        self.forwarder = Forwarder(self.tmp / "doca.sock", tcp_connector(self.port), TOKEN)
        await self.forwarder.start()

    async def close(self) -> None:
        await self.forwarder.stop()
        await self.bridge.stop()
        self.engine.close()


@pytest.fixture
async def path3(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Path3]:
    joined = Path3(tmp_path, request.param)
    await joined.start()
    try:
        yield joined
    finally:
        await joined.close()


@pytest.mark.parametrize("path3", [_echo_after_eof], indirect=True)
async def test_half_close_reaches_the_engine_and_output_still_comes_back(path3: Path3) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path3.tmp / "doca.sock"))
    payload = bytes(range(256)) * 4096  # 1 MiB of stdin
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    async with asyncio.timeout(20):
        reply = await reader.read()
    assert reply == f"got {hashlib.sha256(payload).hexdigest()} {len(payload)}".encode()
    writer.close()
    assert (path3.tmp / "doca.sock").stat().st_mode & 0o077 == 0  # the user's alone


@pytest.mark.parametrize("path3", [_stream], indirect=True)
async def test_long_streams_arrive_whole_and_in_order(path3: Path3) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path3.tmp / "doca.sock"))
    received = bytearray()
    async with asyncio.timeout(30):
        while chunk := await reader.read(65536):
            received += chunk
            if len(received) < 1 << 20:
                await asyncio.sleep(0.001)  # a slow reader: the path must hold back, not drop
    assert len(received) == 256 * 16384
    assert all(received[i * 16384] == i for i in range(256))
    writer.close()


@pytest.mark.parametrize("path3", [_echo_after_eof], indirect=True)
async def test_connections_without_the_token_never_reach_the_engine(path3: Path3) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", path3.port)
    writer.write(b"x" * len(TOKEN) + b"\nGET /_ping HTTP/1.1\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    writer.close()
    assert path3.engine_connections == 0


async def test_a_guest_that_is_not_there_closes_the_client(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    forwarder = Forwarder(tmp_path / "doca.sock", tcp_connector(port), TOKEN)
    await forwarder.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "doca.sock"))
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
    finally:
        await forwarder.stop()
    assert not (tmp_path / "doca.sock").exists()
