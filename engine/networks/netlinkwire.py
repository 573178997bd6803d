"""The rtnetlink wire format (``nlmsghdr``, ``ifinfomsg``, ``ifaddrmsg``, ``rtmsg`` and their
attributes) as far as the engine reads links, addresses and routes and makes a bridge.

Pure functions over bytes. Every length read is checked against what is there, so a truncated
or garbled message raises ``OSError(EBADMSG)`` instead of being misread, and every loop advances
by at least a header: no input makes a parser spin.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

NETLINK_ROUTE = 0

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26

IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1
IFLA_EXT_MASK = 29
RTEXT_FILTER_SKIP_STATS = 1 << 3  # a link's counters are most of its message and unused here

IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_FLAGS = 8

RTA_DST = 1
RTA_TABLE = 15

IFF_UP = 0x1
IFNAMSIZ = 16
RT_TABLE_MAIN = 254

_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope,
# type, flags
_RTATTR = struct.Struct("=HH")  # length, type
_ERROR = struct.Struct("=i")
U32 = struct.Struct("=I")

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_ADDRESS_LENGTHS: dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 16}


def _align(length: int) -> int:
    return (length + 3) & ~3


def _bad(what: str) -> OSError:
    return OSError(errno.EBADMSG, f"malformed netlink message: {what}")


@dataclass(frozen=True)
class Message:
    """One netlink message: its header's fields and its payload."""

    type: int
    flags: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class Link:
    """A network interface (``RTM_NEWLINK``)."""

    index: int
    name: str
    flags: int  # IFF_*
    operstate: int | None  # IF_OPER_*: 6 is up, 2 down, 0 unknown

    @property
    def up(self) -> bool:
        """Administratively up, as ``ip link set … up`` leaves it."""
        return bool(self.flags & IFF_UP)


@dataclass(frozen=True)
class InterfaceAddress:
    """An address of an interface (``RTM_NEWADDR``); ``local`` is set for IPv4 and for the near
    end of a point-to-point link, whose ``address`` is then the peer's."""

    family: int
    index: int
    prefixlen: int
    flags: int  # IFA_F_*
    scope: int
    address: str | None
    local: str | None


@dataclass(frozen=True)
class Route:
    """A route (``RTM_NEWROUTE``); ``dst`` is None for a default route."""

    family: int
    dst_len: int
    table: int
    type: int  # RTN_*
    dst: str | None


def encode_attribute(kind: int, value: bytes) -> bytes:
    length = _RTATTR.size + len(value)
    return _RTATTR.pack(length, kind) + value + b"\0" * (_align(length) - length)


def encode_request(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """A request message: ``body`` is its family header followed by its attributes."""
    return _HEADER.pack(_HEADER.size + len(body), kind, flags, seq, 0) + body


def parse_messages(data: bytes) -> Iterator[Message]:
    """The messages of one datagram."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise _bad(f"{len(data) - offset} bytes left, a header needs {_HEADER.size}")
        length, kind, flags, seq, _port = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or length > len(data) - offset:
            raise _bad(f"length {length} with {len(data) - offset} bytes left")
        yield Message(kind, flags, seq, data[offset + _HEADER.size : offset + length])
        offset += _align(length)


def parse_attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    """The attributes from ``offset`` on, by type (the last of a repeated type wins)."""
    found: dict[int, bytes] = {}
    while offset < len(payload):
        if len(payload) - offset < _RTATTR.size:
            raise _bad("a truncated attribute header")
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size or length > len(payload) - offset:
            raise _bad(f"attribute length {length} with {len(payload) - offset} bytes left")
        found[kind & _NLA_TYPE_MASK] = payload[offset + _RTATTR.size : offset + length]
        offset += _align(length)
    return found


def _fixed(payload: bytes, header: struct.Struct, what: str) -> tuple[int, ...]:
    if len(payload) < header.size:
        raise _bad(f"{what} of {len(payload)} bytes, needs {header.size}")
    return header.unpack_from(payload)


def _u32(value: bytes, what: str) -> int:
    if len(value) < U32.size:
        raise _bad(f"{what} of {len(value)} bytes")
    return int(U32.unpack_from(value)[0])


def _ip(family: int, value: bytes | None, what: str) -> str | None:
    if value is None:
        return None
    if len(value) != _ADDRESS_LENGTHS[family]:
        raise _bad(f"{what} of {len(value)} bytes in address family {family}")
    return socket.inet_ntop(family, value)


def parse_error(payload: bytes) -> int:
    """The errno of an ``NLMSG_ERROR`` (0 for an acknowledgement) or of an ``NLMSG_DONE``."""
    (code,) = _fixed(payload, _ERROR, "an error code")
    return -code


def parse_link(payload: bytes) -> Link:
    _family, _type, index, flags, _change = _fixed(payload, IFINFOMSG, "ifinfomsg")
    attributes = parse_attributes(payload, IFINFOMSG.size)
    name = attributes.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="surrogateescape")
    state = attributes.get(IFLA_OPERSTATE)
    return Link(index, name, flags, state[0] if state else None)


def parse_address(payload: bytes) -> InterfaceAddress | None:
    """An IPv4 or IPv6 address; None for the other families."""
    family, prefixlen, flags, scope, index = _fixed(payload, IFADDRMSG, "ifaddrmsg")
    attributes = parse_attributes(payload, IFADDRMSG.size)
    if family not in _ADDRESS_LENGTHS:
        return None
    if IFA_FLAGS in attributes:  # the full 32 bits; the header has room for 8
        flags = _u32(attributes[IFA_FLAGS], "IFA_FLAGS")
    return InterfaceAddress(
        family=family,
        index=index,
        prefixlen=prefixlen,
        flags=flags,
        scope=scope,
        address=_ip(family, attributes.get(IFA_ADDRESS), "IFA_ADDRESS"),
        local=_ip(family, attributes.get(IFA_LOCAL), "IFA_LOCAL"),
    )


def parse_route(payload: bytes) -> Route | None:
    """An IPv4 or IPv6 route; None for the other families."""
    fields = _fixed(payload, RTMSG, "rtmsg")
    family, dst_len, table, kind = fields[0], fields[1], fields[4], fields[7]
    attributes = parse_attributes(payload, RTMSG.size)
    if family not in _ADDRESS_LENGTHS:
        return None
    if RTA_TABLE in attributes:  # the header's byte says 252 (RT_TABLE_COMPAT) past 255
        table = _u32(attributes[RTA_TABLE], "RTA_TABLE")
    return Route(family, dst_len, table, kind, _ip(family, attributes.get(RTA_DST), "RTA_DST"))
