"""Tests for the userland proxy, between loopback sockets the tests make (and, for a socket bound
to all addresses, inside a network namespace of the test's own)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from engine.networks import links, netns
from engine.networks.proxy import PortProxy

WAIT = 5.0  # upper bound for anything a test waits on


# -- upstreams standing in for the container ----------------------------------------------------


class AnswerAfterEof(asyncio.Protocol):
    """Reads until the client half-closes, then answers once and closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.data = b""

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.transport.write(b"echo:" + self.data)
        self.transport.close()
        return True


class Echo(asyncio.Protocol):
    """Sends everything straight back; closes when the client half-closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False


class DatagramEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector loop's datagram transport does not derive from DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.peers: list[Any] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.peers.append(addr)
        self.transport.sendto(b"re:" + data, addr)


async def tcp_upstream(factory: Callable[[], asyncio.Protocol]) -> asyncio.Server:
    return await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)


def server_address(server: asyncio.Server) -> tuple[str, int]:
    host, port = server.sockets[0].getsockname()[:2]
    return host, port


def bound_socket(kind: int, address: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, kind)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, 0))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def proxies() -> AsyncIterator[list[PortProxy]]:
    made: list[PortProxy] = []
    yield made
    for proxy in made:
        await proxy.close()


async def start(
    made: list[PortProxy], sock: socket.socket, proto: str, target: tuple[str, int], **options: Any
) -> PortProxy:
    proxy = PortProxy(sock, proto, target, **options)
    made.append(proxy)
    await proxy.start()
    return proxy


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.02)


# -- TCP ----------------------------------------------------------------------------------------


async def test_tcp_forwards_both_ways_and_passes_half_close_on(proxies: list[PortProxy]) -> None:
    upstream = await tcp_upstream(AnswerAfterEof)
    host = bound_socket(socket.SOCK_STREAM)
    await start(proxies, host, "tcp", server_address(upstream))
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(host))
        writer.write(b"hello ")
        writer.write(b"world")
        writer.write_eof()  # the answer only comes once the upstream saw this
        assert await reader.read() == b"echo:hello world"
        writer.close()
    upstream.close()


async def test_tcp_carries_large_streams_over_many_connections(
    proxies: list[PortProxy],
) -> None:
    upstream = await tcp_upstream(Echo)
    host = bound_socket(socket.SOCK_STREAM)
    await start(proxies, host, "tcp", server_address(upstream))

    async def one(seed: int) -> None:
        payload = os.urandom(512 * 1024) + bytes([seed])
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(host))

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        _, received = await asyncio.gather(send(), reader.read())
        assert received == payload
        writer.close()

    async with asyncio.timeout(WAIT * 2):
        await asyncio.gather(*(one(i) for i in range(6)))
    upstream.close()


async def test_tcp_client_is_closed_when_the_container_refuses(
    proxies: list[PortProxy],
) -> None:
    closed = bound_socket(socket.SOCK_STREAM)
    target = ("127.0.0.1", port_of(closed))
    closed.close()  # nothing listens there any more
    host = bound_socket(socket.SOCK_STREAM)
    await start(proxies, host, "tcp", target)
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(host))
        assert await reader.read() == b""
        writer.close()


async def test_tcp_connect_times_out(proxies: list[PortProxy]) -> None:
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(0)
    filler = socket.create_connection(stuck.getsockname(), timeout=WAIT)  # the queue is full now
    host = bound_socket(socket.SOCK_STREAM)
    proxy = await start(proxies, host, "tcp", stuck.getsockname(), connect_timeout=0.3)
    try:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(host))
            began = loop.time()
            assert await reader.read() == b""
            assert loop.time() - began < 3
            writer.close()
    finally:
        await proxy.close()
        filler.close()
        stuck.close()


async def test_tcp_connections_are_bounded(proxies: list[PortProxy]) -> None:
    upstream = await tcp_upstream(Echo)
    host = bound_socket(socket.SOCK_STREAM)
    await start(proxies, host, "tcp", server_address(upstream), max_connections=1)
    async with asyncio.timeout(WAIT):
        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", port_of(host))
        first_writer.write(b"a")
        assert await first_reader.readexactly(1) == b"a"
        second_reader, second_writer = await asyncio.open_connection("127.0.0.1", port_of(host))
        assert await second_reader.read() == b""  # turned away
        first_writer.write(b"b")
        assert await first_reader.readexactly(1) == b"b"  # the first one is unharmed
        first_writer.close()
        second_writer.close()
    upstream.close()


# -- UDP ----------------------------------------------------------------------------------------


async def udp_upstream(
    address: str = "127.0.0.1",
) -> tuple[asyncio.DatagramTransport, DatagramEcho]:
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        DatagramEcho, local_addr=(address, 0)
    )
    return transport, protocol


def udp_client(address: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    client = socket.socket(family, socket.SOCK_DGRAM)
    client.setblocking(False)
    client.bind((address, 0))
    return client


async def ask(client: socket.socket, data: bytes, to: tuple[str, int] | None = None) -> bytes:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT):
        if to is None:
            await loop.sock_sendall(client, data)
        else:
            await loop.sock_sendto(client, data, to)
        return await loop.sock_recv(client, 65535)


async def test_udp_replies_reach_each_client(proxies: list[PortProxy]) -> None:
    transport, echo = await udp_upstream()
    host = bound_socket(socket.SOCK_DGRAM)
    proxy = await start(proxies, host, "udp", transport.get_extra_info("sockname"))
    to = ("127.0.0.1", port_of(host))
    first, second = udp_client(), udp_client()
    try:
        assert await ask(first, b"one", to) == b"re:one"
        assert await ask(second, b"two", to) == b"re:two"
        assert await ask(first, b"three", to) == b"re:three"
        assert proxy.udp_flows == 2
        # each client has a flow (a source port) of its own towards the container
        assert len(set(echo.peers)) == 2
        assert echo.peers[0] == echo.peers[2]
    finally:
        first.close()
        second.close()
        transport.close()


async def test_udp_idle_flows_expire(proxies: list[PortProxy]) -> None:
    transport, _ = await udp_upstream()
    host = bound_socket(socket.SOCK_DGRAM)
    proxy = await start(
        proxies, host, "udp", transport.get_extra_info("sockname"), udp_idle_timeout=0.2
    )
    client = udp_client()
    try:
        assert await ask(client, b"ping", ("127.0.0.1", port_of(host))) == b"re:ping"
        assert proxy.udp_flows == 1
        await until(lambda: proxy.udp_flows == 0)
        # a client coming back after that gets a new flow
        assert await ask(client, b"again", ("127.0.0.1", port_of(host))) == b"re:again"
    finally:
        client.close()
        transport.close()


async def test_udp_flows_are_bounded(proxies: list[PortProxy]) -> None:
    transport, echo = await udp_upstream()
    host = bound_socket(socket.SOCK_DGRAM)
    proxy = await start(proxies, host, "udp", transport.get_extra_info("sockname"), max_udp_flows=2)
    to = ("127.0.0.1", port_of(host))
    clients = [udp_client() for _ in range(3)]
    try:
        for index, client in enumerate(clients):
            assert await ask(client, b"%d" % index, to) == b"re:%d" % index
            assert proxy.udp_flows <= 2
        await until(lambda: len(asyncio.all_tasks()) <= 4)  # the evicted flow's task is gone
        # the least recently used flow made room; its client is served again on a new one
        assert await ask(clients[0], b"back", to) == b"re:back"
        assert proxy.udp_flows == 2
        assert echo.peers[-1] != echo.peers[0]
    finally:
        for client in clients:
            client.close()
        transport.close()


# -- closing ------------------------------------------------------------------------------------


async def test_close_cancels_every_task_and_closes_the_sockets() -> None:
    upstream = await tcp_upstream(Echo)
    transport, _ = await udp_upstream()
    tcp_host = bound_socket(socket.SOCK_STREAM)
    udp_host = bound_socket(socket.SOCK_DGRAM)
    tcp = PortProxy(tcp_host, "tcp", server_address(upstream))
    udp = PortProxy(udp_host, "udp", transport.get_extra_info("sockname"))
    await tcp.start()
    await udp.start()
    client = udp_client()
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(tcp_host))
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"  # a relay is running
        assert await ask(client, b"y", ("127.0.0.1", port_of(udp_host))) == b"re:y"

        await tcp.close()
        await udp.close()

        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert tcp_host.fileno() == -1 and udp_host.fileno() == -1
        assert udp.udp_flows == 0
        try:  # the relayed connection was closed too
            rest = await reader.read()
        except ConnectionResetError:
            rest = b""
        assert rest == b""
        await tcp.close()  # closing twice is harmless
        await tcp.start()  # and a closed proxy does not start again
        assert asyncio.all_tasks() == {asyncio.current_task()}
    writer.close()
    client.close()
    transport.close()
    upstream.close()


def test_unknown_protocol_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(ValueError):
        PortProxy(sock, "icmp", ("127.0.0.1", 1))


# -- a socket bound to all addresses (in a namespace of our own) ---------------------------------


@pytest.fixture
def private_netns(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    path = tmp_path / "netns"
    netns.create(path)
    try:
        links.bring_up_loopback(path)
        yield path
    finally:
        netns.remove(path)


async def test_udp_replies_leave_from_the_address_the_client_used(
    private_netns: Path, proxies: list[PortProxy]
) -> None:
    def make() -> list[socket.socket]:
        return [
            bound_socket(socket.SOCK_DGRAM, "0.0.0.0"),
            bound_socket(socket.SOCK_DGRAM, "::"),
            udp_client("127.0.0.1"),
            udp_client("::1"),
        ]

    v4_host, v6_host, v4_client, v6_client = await asyncio.to_thread(
        netns.run_in, private_netns, make
    )
    # The proxy reaches the container from the engine's namespace, as it does for real.
    transport, _ = await udp_upstream()
    target = transport.get_extra_info("sockname")
    await start(proxies, v4_host, "udp", target)
    await start(proxies, v6_host, "udp", target)
    try:
        # 127.0.0.2 is ours too but not the address the kernel would answer from; a connected
        # client only takes the reply when it comes from where it sent to.
        v4_client.connect(("127.0.0.2", port_of(v4_host)))
        assert await ask(v4_client, b"four") == b"re:four"
        v6_client.connect(("::1", port_of(v6_host)))
        assert await ask(v6_client, b"six") == b"re:six"
    finally:
        v4_client.close()
        v6_client.close()
        transport.close()
