"""Where the embedded DNS sends the names it does not know: the host's resolvers (read from its
resolv.conf, from the host namespace, so loopback resolvers work) or a container's ``--dns``."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.networks.dnswire import (
    MAX_MESSAGE_SIZE,
    RCODE_REFUSED,
    RCODE_SERVFAIL,
    FormatError,
    Message,
    build_response,
    parse_header,
    with_id,
)

log = logging.getLogger(__name__)

MAX_UPSTREAMS = 3  # as glibc (MAXNS) and dockerd (maxExtDNS)

Upstream = tuple[str, int]


@dataclass(frozen=True)
class Forward:
    """The query is not about our names: relay ``packet`` upstream."""

    query: Message
    packet: bytes


def parse_nameservers(text: str) -> list[Upstream]:
    """The ``nameserver`` entries of a resolv.conf, as (ip, 53), at most three as glibc uses."""
    servers: list[Upstream] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        try:
            ipaddress.ip_address(words[1].partition("%")[0])
        except ValueError:
            continue
        servers.append((words[1], 53))
    return servers[:MAX_UPSTREAMS]


_resolv_conf_cache: dict[str, tuple[tuple[int, int, int], list[Upstream]]] = {}


def host_upstreams(resolv_conf: str) -> list[Upstream]:
    """The nameservers of the resolv.conf at path ``resolv_conf``, re-read when it changes.

    Cheap enough to call for every forwarded query: the file is only read again when its
    inode, mtime or size differ from the last read. A missing file means no upstreams.
    """
    try:
        info = os.stat(resolv_conf)
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = _resolv_conf_cache.get(resolv_conf)
        if cached is not None and cached[0] == stamp:
            return list(cached[1])
        with open(resolv_conf, encoding="utf-8", errors="replace") as file:
            servers = parse_nameservers(file.read())
    except OSError:
        _resolv_conf_cache.pop(resolv_conf, None)
        return []
    _resolv_conf_cache[resolv_conf] = (stamp, servers)
    return list(servers)


class Forwarder:
    """Relays queries that are not about our names to the upstream resolvers."""

    def __init__(self, upstreams: Callable[[], Sequence[Upstream]], timeout: float) -> None:
        self._upstreams = upstreams
        self._timeout = timeout

    async def forward(self, request: Forward, *, tcp: bool) -> bytes:
        """The first usable upstream reply, with the client's ID; SERVFAIL if there is none.

        SERVFAIL and REFUSED move on to the next upstream, as in dockerd; the last such reply
        is relayed if no upstream does better.
        """
        exchange = _exchange_tcp if tcp else _exchange_udp
        client_id = request.query.header.id
        fallback: bytes | None = None
        for upstream in self._upstream_list():
            reply = await exchange(upstream, request.packet, self._timeout)
            if reply is None:
                continue
            if parse_header(reply).rcode in (RCODE_SERVFAIL, RCODE_REFUSED):
                fallback = reply
                continue
            return with_id(reply, client_id)
        if fallback is not None:
            return with_id(fallback, client_id)
        return build_response(request.query, RCODE_SERVFAIL)

    def _upstream_list(self) -> list[Upstream]:
        try:
            return list(self._upstreams())[:MAX_UPSTREAMS]
        except Exception:
            log.exception("embedded DNS: reading the upstream resolvers failed")
            return []


def _is_reply(packet: bytes, message_id: int) -> bool:
    try:
        header = parse_header(packet)
    except FormatError:
        return False
    return header.qr and header.id == message_id


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


async def _exchange_udp(upstream: Upstream, packet: bytes, timeout: float) -> bytes | None:
    message_id = random.getrandbits(16)
    loop = asyncio.get_running_loop()
    with socket.socket(_family(upstream[0]), socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            async with asyncio.timeout(timeout):
                # Connected, so the kernel drops datagrams from anyone but the upstream.
                await loop.sock_connect(sock, upstream)
                await loop.sock_sendall(sock, with_id(packet, message_id))
                while True:
                    reply = await loop.sock_recv(sock, MAX_MESSAGE_SIZE)
                    if _is_reply(reply, message_id):
                        return reply
        except OSError as exc:  # TimeoutError included
            log.debug("embedded DNS: upstream %s over UDP: %r", upstream[0], exc)
            return None


async def _exchange_tcp(upstream: Upstream, packet: bytes, timeout: float) -> bytes | None:
    message_id = random.getrandbits(16)
    outgoing = with_id(packet, message_id)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(*upstream)
            try:
                writer.write(len(outgoing).to_bytes(2, "big") + outgoing)
                await writer.drain()
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = await reader.readexactly(size)
            finally:
                writer.close()
    except (OSError, asyncio.IncompleteReadError) as exc:
        log.debug("embedded DNS: upstream %s over TCP: %r", upstream[0], exc)
        return None
    return reply if _is_reply(reply, message_id) else None
