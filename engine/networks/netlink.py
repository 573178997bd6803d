"""Links, addresses and routes over rtnetlink, with nothing but ``socket`` and ``struct``.

The engine reads the host's network at start-up (its routes, for choosing subnets) and sees to
its default bridge (made once per boot, found as it was left on a restart). pyroute2 costs
megabytes of resident memory that an idle engine would otherwise never need: this covers
what start-up does, the queries and a bridge with its addresses; pyroute2 stays the tool for
containers' veth pairs (``engine.networks.links``), imported where they are made.

``RouteSocket`` blocks: call it from a worker thread. A socket works in the network namespace
of the thread that opened it. The messages' format is ``engine.networks.netlinkwire``'s.
"""

from __future__ import annotations

import errno
import os
import socket
from types import TracebackType

from engine.networks import netlinkwire as wire
from engine.networks.netlinkwire import (
    IFA_ADDRESS,
    IFA_FLAGS,
    IFA_LOCAL,
    IFF_UP,
    IFLA_EXT_MASK,
    IFLA_IFNAME,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MTU,
    IFNAMSIZ,
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_EXCL,
    NLM_F_MULTI,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_NOOP,
    NLMSG_OVERRUN,
    RT_TABLE_MAIN,
    RTEXT_FILTER_SKIP_STATS,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    Interface,
    InterfaceAddress,
    Link,
    Message,
    Route,
    encode_attribute,
    encode_request,
    parse_address,
    parse_error,
    parse_link,
    parse_messages,
    parse_route,
)

__all__ = ["RT_TABLE_MAIN", "InterfaceAddress", "Link", "Route", "RouteSocket"]

# Dumps come in datagrams of at most 32 KiB; a single link's reply can be bigger (a NIC with
# many virtual functions), never this big.
_RECEIVE_BUFFER = 32 * 1024
_MAX_DATAGRAM = 1 << 20
_DUMP_ATTEMPTS = 3


class RouteSocket:
    """A ``NETLINK_ROUTE`` socket: queries and changes, one at a time (blocking)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        try:
            # the kernel answers at once; the timeout only bounds a wait that would be a bug
            self._sock.settimeout(timeout)
            self._sock.bind((0, 0))
        except BaseException:
            self._sock.close()
            raise
        self._buffer = bytearray(_RECEIVE_BUFFER)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RouteSocket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def link(self, name: str) -> Link | None:
        """The link named ``name``, or None if there is none."""
        if not 0 < len(name.encode()) < IFNAMSIZ:
            return None  # the kernel refuses to look such a name up: no link has it
        body = wire.IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        body += encode_attribute(IFLA_IFNAME, name.encode() + b"\0")
        body += encode_attribute(IFLA_EXT_MASK, wire.U32.pack(RTEXT_FILTER_SKIP_STATS))
        try:
            replies = self._exchange(RTM_GETLINK, NLM_F_REQUEST, body)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return None
            raise
        links = [parse_link(m.payload) for m in replies if m.type == RTM_NEWLINK]
        return links[0] if links else None

    def links(self) -> list[Link]:
        body = wire.IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        body += encode_attribute(IFLA_EXT_MASK, wire.U32.pack(RTEXT_FILTER_SKIP_STATS))
        return [parse_link(m.payload) for m in self._dump(RTM_GETLINK, body, RTM_NEWLINK)]

    def addresses(
        self, family: int = socket.AF_UNSPEC, index: int | None = None
    ) -> list[InterfaceAddress]:
        """IPv4 and IPv6 addresses (of ``family`` only, of link ``index`` only if given)."""
        body = wire.IFADDRMSG.pack(family, 0, 0, 0, 0)
        found = []
        for message in self._dump(RTM_GETADDR, body, RTM_NEWADDR):
            address = parse_address(message.payload)
            if address is None:
                continue
            if family != socket.AF_UNSPEC and address.family != family:
                continue
            if index is None or address.index == index:
                found.append(address)
        return found

    def routes(self, family: int, table: int = RT_TABLE_MAIN) -> list[Route]:
        """The routes of ``family`` (AF_INET or AF_INET6) in routing table ``table``.

        The kernel dumps every table whatever the request says (unless asked for strict
        checking, which older kernels lack): the table is picked here."""
        body = wire.RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        found = []
        for message in self._dump(RTM_GETROUTE, body, RTM_NEWROUTE):
            route = parse_route(message.payload)
            if route is not None and route.family == family and route.table == table:
                found.append(route)
        return found

    # -- changes (acknowledged: an error raises) ---------------------------------------------

    def add_bridge(self, name: str, mtu: int | None = None) -> None:
        """Create bridge ``name`` (down; EEXIST if the name is taken)."""
        body = wire.IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        body += encode_attribute(IFLA_IFNAME, name.encode() + b"\0")
        if mtu:
            body += encode_attribute(IFLA_MTU, wire.U32.pack(mtu))
        body += encode_attribute(IFLA_LINKINFO, encode_attribute(IFLA_INFO_KIND, b"bridge\0"))
        self._change(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_address(self, index: int, interface: Interface, flags: int = 0) -> None:
        """Give link ``index`` the address ``interface`` with ``flags`` (IFA_F_*), as
        ``ip address add`` does (EEXIST if it has it)."""
        family = socket.AF_INET if interface.version == 4 else socket.AF_INET6
        packed = interface.ip.packed
        body = wire.IFADDRMSG.pack(family, interface.network.prefixlen, 0, 0, index)
        if family == socket.AF_INET:  # IPv4's own end; IFA_ADDRESS is a peer's, here the same
            body += encode_attribute(IFA_LOCAL, packed)
        body += encode_attribute(IFA_ADDRESS, packed)
        body += encode_attribute(IFA_FLAGS, wire.U32.pack(flags))
        self._change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_up(self, index: int) -> None:
        """Bring link ``index`` up (set IFF_UP, as ``ip link set … up``)."""
        body = wire.IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        self._change(RTM_NEWLINK, 0, body)

    # -- the exchange -------------------------------------------------------------------------

    def _dump(self, kind: int, body: bytes, reply: int) -> list[Message]:
        """A dump's messages of type ``reply``, redone when the kernel flags it inconsistent
        (the links or addresses changed while it ran)."""
        for _ in range(_DUMP_ATTEMPTS):
            replies = self._exchange(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
            if not any(m.flags & NLM_F_DUMP_INTR for m in replies):
                return [m for m in replies if m.type == reply]
        raise OSError(errno.EAGAIN, f"netlink dump interrupted {_DUMP_ATTEMPTS} times")

    def _change(self, kind: int, flags: int, body: bytes) -> None:
        self._exchange(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body)

    def _exchange(self, kind: int, flags: int, body: bytes) -> list[Message]:
        """Send one request and collect its replies: up to ``NLMSG_DONE`` for a dump, the one
        reply otherwise. A kernel error raises as ``OSError`` with its errno."""
        self._seq = self._seq % 0xFFFFFFFF + 1
        seq = self._seq
        self._sock.sendto(encode_request(kind, flags, seq, body), (0, 0))
        replies: list[Message] = []
        while True:
            for message in parse_messages(self._receive()):
                if message.seq != seq:
                    continue  # left over from an earlier request given up on
                if message.type in (NLMSG_ERROR, NLMSG_DONE):
                    # a dump's NLMSG_DONE carries its error code too (when it has a payload)
                    has_code = message.type == NLMSG_ERROR or bool(message.payload)
                    code = parse_error(message.payload) if has_code else 0
                    if code:
                        raise OSError(code, os.strerror(code))
                    if message.flags & NLM_F_DUMP_INTR:
                        replies.append(message)
                    return replies
                if message.type == NLMSG_OVERRUN:
                    raise OSError(errno.ENOBUFS, "netlink overrun")
                if message.type == NLMSG_NOOP:
                    continue
                replies.append(message)
                if not message.flags & NLM_F_MULTI:
                    return replies

    def _receive(self) -> bytes:
        """One datagram, whatever its size up to ``_MAX_DATAGRAM``."""
        size = self._sock.recv_into(self._buffer, 0, socket.MSG_PEEK | socket.MSG_TRUNC)
        if size > _MAX_DATAGRAM:
            self._sock.recv(0)  # drop it: a receive shorter than the datagram discards it
            raise OSError(errno.EMSGSIZE, f"netlink datagram of {size} bytes")
        if size > len(self._buffer):
            return self._sock.recv(size)
        received = self._sock.recv_into(self._buffer)
        return bytes(self._buffer[:received])
