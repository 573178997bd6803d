"""The embedded DNS server that containers on user-defined networks reach at 127.0.0.11.

As in dockerd, each container gets a UDP socket and a listening TCP socket bound to
127.0.0.11:53 inside its own network namespace (a socket stays in the namespace it was created
in), while the engine serves all of them from its event loop in the host namespace. Names of
containers on the container's networks are answered here; every other query is relayed to the
host's resolvers from the host namespace, so loopback resolvers such as systemd-resolved's
127.0.0.53 keep working.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from engine.networks import netns
from engine.networks.dnsforward import (
    Forward,
    Forwarder,
    Upstream,
)
from engine.networks.dnswire import (
    CLASS_IN,
    MAX_MESSAGE_SIZE,
    MAX_UDP_SIZE,
    OPCODE_QUERY,
    RCODE_FORMERR,
    RCODE_NOERROR,
    RCODE_NOTIMP,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_PTR,
    FormatError,
    Message,
    Record,
    a_record,
    aaaa_record,
    address_from_reverse_name,
    build_response,
    error_response,
    parse_header,
    parse_message,
    ptr_record,
)

log = logging.getLogger(__name__)

DNS_ADDRESS = "127.0.0.11"
LOCAL_TTL = 600  # dockerd's respTTL
MAX_FORWARDS = 100  # concurrent forwarded queries per server; more are dropped
MAX_TCP_CLIENTS = 32
TCP_IDLE_TIMEOUT = 8.0  # for a whole query to arrive or a reply to leave
_TCP_BACKLOG = 16


class Resolver(Protocol):
    """What a container's networks know about names (see ``EmbeddedDns.attach``)."""

    def lookup(self, name: str, qtype: int) -> list[str] | None:
        """Addresses of ``name`` (lower case, no trailing dot) of ``qtype`` (A or AAAA).

        None when the name is not one of ours (the query is forwarded); [] when it is ours but
        has no address of that type (NOERROR with no data).
        """
        ...

    def reverse(self, address: str) -> str | None:
        """The name of the container holding ``address``, or None (the query is forwarded)."""
        ...


# -- sockets ----------------------------------------------------------------------


def create_sockets_in_netns(
    netns_path: str, address: str = DNS_ADDRESS, port: int = 53
) -> tuple[socket.socket, socket.socket]:
    """Non-blocking UDP and listening TCP sockets bound to ``address:port`` inside the namespace.

    Blocking: the sockets are made by a short-lived thread that enters the namespace. Loopback
    must already be up there.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET

    def make() -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp: socket.socket | None = None
        try:
            udp.bind((address, port))
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            tcp.listen(_TCP_BACKLOG)
        except BaseException:
            udp.close()
            if tcp is not None:
                tcp.close()
            raise
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp

    return netns.run_in(netns_path, make)


# -- deciding what to do with one query ---------------------------------------------------------


def answer(packet: bytes, resolver: Resolver, *, tcp: bool) -> bytes | Forward | None:
    """The reply to send for ``packet``, a ``Forward``, or None to drop it.

    Unreadable headers and packets that are themselves replies are dropped; anything else
    malformed gets FORMERR. Like miekg/dns (dockerd's server), only single-question QUERY
    messages are served.
    """
    try:
        header = parse_header(packet)
    except FormatError:
        return None
    if header.qr:
        return None
    try:
        query = parse_message(packet)
    except FormatError:
        return error_response(header, RCODE_FORMERR)
    if header.opcode != OPCODE_QUERY:
        return error_response(header, RCODE_NOTIMP)
    if header.qdcount != 1:
        return error_response(header, RCODE_FORMERR)
    max_size = MAX_MESSAGE_SIZE if tcp else max(MAX_UDP_SIZE, query.edns_udp_size or 0)
    try:
        reply = local_answer(query, resolver, max_size)
    except Exception:
        log.exception("embedded DNS: answering %s failed", query.questions[0].name)
        return build_response(query, RCODE_SERVFAIL)
    return Forward(query, packet) if reply is None else reply


def local_answer(query: Message, resolver: Resolver, max_size: int) -> bytes | None:
    """The reply from our own names, or None when the question is not about them.

    AA stays clear and RA set, as in dockerd's replies.
    """
    question = query.questions[0]
    if question.qclass != CLASS_IN:
        return None
    name = question.name.lower()
    records: list[Record] = []
    if question.qtype in (TYPE_A, TYPE_AAAA):
        addresses = resolver.lookup(name, question.qtype)
        if addresses is None:
            return None
        make = a_record if question.qtype == TYPE_A else aaaa_record
        # Shuffled as dockerd does, so containers sharing an alias share the load.
        for address in random.sample(addresses, len(addresses)):
            try:
                records.append(make(question.labels, address, LOCAL_TTL))
            except ValueError:
                log.warning("embedded DNS: %s has a malformed address %r", name, address)
    elif question.qtype == TYPE_PTR:
        reversed_address = address_from_reverse_name(name)
        host = resolver.reverse(reversed_address) if reversed_address is not None else None
        if host is None:
            return None
        records.append(ptr_record(question.labels, host, LOCAL_TTL))
    elif resolver.lookup(name, TYPE_A) is None and resolver.lookup(name, TYPE_AAAA) is None:
        return None
    # Any other type for one of our names: the name exists without such records, so NOERROR
    # with no data (dockerd does this for MX) rather than leaking the name upstream.
    return build_response(query, RCODE_NOERROR, records, max_size=max_size)


# -- serving one container's sockets ------------------------------------------------------------


class _Server:
    """The UDP and TCP sockets of one container; owns every task serving them."""

    def __init__(
        self,
        sockets: tuple[socket.socket, socket.socket],
        resolver: Resolver,
        forwarder: Forwarder,
        max_forwards: int,
    ) -> None:
        self._udp_socket, self._listener = sockets
        self._resolver = resolver
        self._forwarder = forwarder
        self._max_forwards = max_forwards
        self._forwarding = 0
        self._transport: asyncio.DatagramTransport | None = None
        self.sending_paused = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[socket.socket] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), sock=self._udp_socket
        )
        self._spawn(self._accept())

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            self._udp_socket.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in list(self._connections):
            connection.close()
        self._listener.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("embedded DNS task failed", exc_info=task.exception())

    def _may_forward(self) -> bool:
        if self._forwarding >= self._max_forwards:
            log.debug("embedded DNS: %d queries already forwarded, dropping", self._forwarding)
            return False
        return True

    # UDP

    def datagram(self, packet: bytes, client: Any) -> None:
        decision = answer(packet, self._resolver, tcp=False)
        if isinstance(decision, bytes):
            self._send(decision, client)
        elif isinstance(decision, Forward) and self._may_forward():
            self._forwarding += 1
            task = self._spawn(self._forward_udp(decision, client))
            task.add_done_callback(self._forward_done)

    def _forward_done(self, _task: asyncio.Task[None]) -> None:
        self._forwarding -= 1

    async def _forward_udp(self, request: Forward, client: Any) -> None:
        self._send(await self._forwarder.forward(request, tcp=False), client)

    def _send(self, reply: bytes, client: Any) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self.sending_paused:
            return  # replies are piling up unsent: drop rather than queue without bound
        transport.sendto(reply, client)

    # TCP

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while self._listener.fileno() >= 0:
            try:
                connection, _ = await loop.sock_accept(self._listener)
            except OSError as exc:
                log.warning("embedded DNS: accept failed: %s", exc)
                await asyncio.sleep(0.5)  # e.g. out of descriptors: do not spin
                continue
            if len(self._connections) >= MAX_TCP_CLIENTS:
                connection.close()
                continue
            self._connections.add(connection)
            self._spawn(self._serve_connection(connection))

    async def _serve_connection(self, connection: socket.socket) -> None:
        """Queries over one connection, in turn (RFC 7766 framing); closed on anything odd."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    prefix = await _receive_exactly(loop, connection, 2)
                    packet = await _receive_exactly(loop, connection, int.from_bytes(prefix, "big"))
                reply = await self._reply_tcp(packet)
                if reply is None:
                    return
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    await loop.sock_sendall(connection, len(reply).to_bytes(2, "big") + reply)
        except (OSError, EOFError):  # TimeoutError included
            return
        finally:
            self._connections.discard(connection)
            connection.close()

    async def _reply_tcp(self, packet: bytes) -> bytes | None:
        decision = answer(packet, self._resolver, tcp=True)
        if not isinstance(decision, Forward):
            return decision
        if not self._may_forward():
            return None
        self._forwarding += 1
        try:
            return await self._forwarder.forward(decision, tcp=True)
        finally:
            self._forwarding -= 1


async def _receive_exactly(
    loop: asyncio.AbstractEventLoop, connection: socket.socket, size: int
) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await loop.sock_recv(connection, size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: _Server) -> None:
        self._server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self._server.datagram(data, addr)
        except Exception:
            log.exception("embedded DNS: handling a datagram failed")

    def error_received(self, exc: Exception) -> None:
        log.debug("embedded DNS: UDP error: %s", exc)

    def pause_writing(self) -> None:
        self._server.sending_paused = True

    def resume_writing(self) -> None:
        self._server.sending_paused = False


# -- the engine-wide server ---------------------------------------------------------------------


class EmbeddedDns:
    """Serves the DNS sockets of every running container on a user-defined network."""

    def __init__(
        self,
        upstreams: Callable[[], Sequence[Upstream]],
        timeout: float = 2.0,
        *,
        max_forwards: int = MAX_FORWARDS,
    ) -> None:
        self._forwarder = Forwarder(upstreams, timeout)
        self._timeout = timeout
        self._max_forwards = max_forwards
        self._servers: dict[str, _Server] = {}

    async def attach(
        self,
        key: str,
        sockets: tuple[socket.socket, socket.socket],
        resolver: Resolver,
        upstreams: Sequence[Upstream] = (),
    ) -> None:
        """Start serving ``sockets`` (from ``create_sockets_in_netns``), replacing ``key``'s.

        ``upstreams`` are the container's own resolvers (``--dns``), used instead of the
        host's for names that are not ours.
        """
        await self.detach(key)
        forwarder = self._forwarder
        if upstreams:
            fixed = list(upstreams)
            forwarder = Forwarder(lambda: fixed, self._timeout)
        server = _Server(sockets, resolver, forwarder, self._max_forwards)
        self._servers[key] = server
        try:
            await server.start()
        except BaseException:
            self._servers.pop(key, None)
            await server.stop()
            raise

    async def detach(self, key: str) -> None:
        """Stop serving ``key``'s sockets and close them; nothing happens for an unknown key."""
        server = self._servers.pop(key, None)
        if server is not None:
            await server.stop()

    async def close(self) -> None:
        """Detach every server, cancelling all their tasks."""
        for key in list(self._servers):
            await self.detach(key)
