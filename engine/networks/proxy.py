"""The userland proxy: forwards what arrives on a published host port to the container, for what
the firewall does not carry (no nftables, or an IPv6 host address and an IPv4-only container).

dockerd runs a docker-proxy process per port; here each proxy is a few tasks on the engine's
event loop, serving the socket ``PortAllocator`` bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
MAX_CONNECTIONS = 1024  # per proxy; more are closed as they arrive
UDP_IDLE_TIMEOUT = 90.0  # docker-proxy's UDPConnTrackTimeout
MAX_UDP_FLOWS = 1024  # per proxy; the least recently used flow makes room for a new one

_CHUNK = 65536
_DATAGRAM = 65535
_DRAIN_BATCH = 64  # datagrams read in one go before other tasks get a turn
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux's value; not every Python exports it
_ANCILLARY = socket.CMSG_SPACE(20)  # room for an in6_pktinfo (in_pktinfo is smaller)
_ACCEPT_RETRY = 0.5  # pause after running out of descriptors before accepting again
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ABORTED = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR, errno.EAGAIN)

Local = tuple[bytes, int]  # the address a client sent to (packed) and its interface index


@dataclass(eq=False)
class _Flow:
    """One UDP client, with a socket of its own connected to the container."""

    client: Any
    sock: socket.socket
    local: Local | None
    last_seen: float
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _signal(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _signal, ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy one direction until EOF, then pass the half-close on."""
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(src, _CHUNK)
        if not data:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            return
        await loop.sock_sendall(dst, data)


def _local_address(ancillary: list[tuple[int, int, bytes]]) -> Local | None:
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(data) >= 12:
            _ifindex, _spec_dst, destination = struct.unpack("=i4s4s", data[:12])
            return destination, 0
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 20:
            destination, ifindex = struct.unpack("=16sI", data[:20])
            return destination, ifindex
    return None


def _source_message(local: Local) -> tuple[int, int, bytes]:
    """Ancillary data that makes a reply leave from the address the request came to."""
    address, ifindex = local
    if len(address) == 4:
        return socket.IPPROTO_IP, _IP_PKTINFO, struct.pack("=i4s4s", 0, address, bytes(4))
    return socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, struct.pack("=16sI", address, ifindex)


class PortProxy:
    """Forwards connections/datagrams accepted on a bound host socket to the container's address."""

    def __init__(
        self,
        sock: socket.socket,
        proto: str,
        target: tuple[str, int],
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        udp_idle_timeout: float = UDP_IDLE_TIMEOUT,
        max_udp_flows: int = MAX_UDP_FLOWS,
    ) -> None:
        if proto not in ("tcp", "udp", "sctp"):
            raise ValueError(f"unknown protocol {proto!r}")
        self.sock = sock
        self.proto = proto
        self.target = target
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.udp_idle_timeout = udp_idle_timeout
        self.max_udp_flows = max_udp_flows
        version = ipaddress.ip_address(target[0]).version
        self._family = socket.AF_INET6 if version == 6 else socket.AF_INET
        self._tasks: set[asyncio.Task[None]] = set()
        self._flows: dict[Any, _Flow] = {}
        self._pktinfo = False
        self._started = False
        self._closed = False

    @property
    def udp_flows(self) -> int:
        """How many UDP clients currently have a flow to the container."""
        return len(self._flows)

    async def start(self) -> None:
        if self._started or self._closed:
            return
        self._started = True
        self.sock.setblocking(False)
        if self.proto == "udp":
            self._pktinfo = self._enable_pktinfo()
            self._spawn(self._receive())
        else:
            self._spawn(self._accept())

    async def close(self) -> None:
        """Cancel every task this proxy owns and close its sockets (the bound one too)."""
        self._closed = True
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for flow in list(self._flows.values()):
            flow.sock.close()
        self._flows.clear()
        self.sock.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- streams (tcp, sctp) ----------------------------------------------------------------

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(self.sock)
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.warning("port proxy for %s: %s", self.target, exc)
                    await asyncio.sleep(_ACCEPT_RETRY)
                    continue
                if exc.errno in _ABORTED:
                    continue
                log.warning("port proxy for %s stopped accepting: %s", self.target, exc)
                return
            if len(self._tasks) > self.max_connections:  # this accept loop is one of them
                client.close()
                continue
            self._spawn(self._relay(client))

    async def _relay(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        upstream: socket.socket | None = None
        try:
            number = socket.IPPROTO_SCTP if self.proto == "sctp" else 0
            upstream = socket.socket(self._family, socket.SOCK_STREAM, number)
            upstream.setblocking(False)
            client.setblocking(False)
            if self.proto == "tcp":
                # Small writes go through at once, as they would without the proxy in between.
                for sock in (client, upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            async with asyncio.timeout(self.connect_timeout):
                await loop.sock_connect(upstream, self.target)
            async with asyncio.TaskGroup() as group:  # one side failing ends both
                group.create_task(_pump(client, upstream))
                group.create_task(_pump(upstream, client))
        except* OSError as failure:  # TimeoutError included
            log.debug("port proxy for %s: connection ended: %s", self.target, failure.exceptions)
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    # -- datagrams (udp) --------------------------------------------------------------------

    def _enable_pktinfo(self) -> bool:
        """Ask for each datagram's destination, so that replies on a socket bound to all
        addresses leave from the address the client used (it would drop them otherwise)."""
        try:
            host = ipaddress.ip_address(self.sock.getsockname()[0])
            if not host.is_unspecified:
                return False
            if self.sock.family == socket.AF_INET6:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            else:
                self.sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        except (OSError, ValueError):
            return False
        return True

    async def _receive(self) -> None:
        fd = self.sock.fileno()
        while True:
            await _readable(fd)
            for _ in range(_DRAIN_BATCH):
                try:
                    data, ancillary, _flags, client = self.sock.recvmsg(_DATAGRAM, _ANCILLARY)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    log.debug("port proxy for %s: %s", self.target, exc)
                    break
                self._forward(data, client, _local_address(ancillary))
            await asyncio.sleep(0)

    def _forward(self, data: bytes, client: Any, local: Local | None) -> None:
        loop = asyncio.get_running_loop()
        flow = self._flows.get(client)
        if flow is None:
            flow = self._open_flow(client, local)
            if flow is None:
                return
        flow.last_seen = loop.time()
        if local is not None:
            flow.local = local
        # A failed send drops the datagram, as UDP may; that includes a refusal reported for
        # an earlier one.
        with contextlib.suppress(OSError):
            flow.sock.send(data)

    def _open_flow(self, client: Any, local: Local | None) -> _Flow | None:
        if self._closed:
            return None
        while self._flows and len(self._flows) >= self.max_udp_flows:
            self._drop_flow(min(self._flows.values(), key=lambda f: f.last_seen))
        sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(self.target)
        except OSError as exc:
            sock.close()
            log.debug("port proxy for %s: no flow for %s: %s", self.target, client, exc)
            return None
        flow = _Flow(client, sock, local, asyncio.get_running_loop().time())
        self._flows[client] = flow
        flow.task = self._spawn(self._serve_flow(flow))
        # Closed only once the task is over (even if cancelled before it ran), so the event
        # loop never watches a descriptor number that was closed and handed out again.
        flow.task.add_done_callback(lambda _: self._flow_done(flow))
        return flow

    def _drop_flow(self, flow: _Flow) -> None:
        if self._flows.get(flow.client) is flow:
            del self._flows[flow.client]
        if flow.task is not None:
            flow.task.cancel()

    def _flow_done(self, flow: _Flow) -> None:
        if self._flows.get(flow.client) is flow:
            del self._flows[flow.client]
        flow.sock.close()

    async def _serve_flow(self, flow: _Flow) -> None:
        """Send the container's replies back to the client until the flow has been idle."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = flow.last_seen + self.udp_idle_timeout - loop.time()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    data = await loop.sock_recv(flow.sock, _DATAGRAM)
            except TimeoutError:
                continue  # the client may have sent something meanwhile
            except OSError as exc:
                if exc.errno == errno.ECONNREFUSED:
                    continue  # nothing listens in the container (yet); the datagram is lost
                log.debug("port proxy for %s: flow of %s: %s", self.target, flow.client, exc)
                return
            flow.last_seen = loop.time()
            self._reply(flow, data)

    def _reply(self, flow: _Flow, data: bytes) -> None:
        try:
            if self._pktinfo and flow.local is not None:
                try:
                    self.sock.sendmsg([data], [_source_message(flow.local)], 0, flow.client)
                    return
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.ENOBUFS):
                        return
                    # e.g. the client wrote to a broadcast address: answer from the default
            self.sock.sendto(data, flow.client)
        except OSError:
            pass  # a full buffer or a client gone: the datagram is lost, as UDP allows
