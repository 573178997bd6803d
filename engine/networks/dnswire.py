"""The DNS wire format (RFC 1035) as far as the embedded DNS server needs it.

Pure functions over bytes: parsing is defensive because every packet comes from a container
the engine does not trust, so every length, count and compression pointer is checked and any
violation raises ``FormatError``. Names are kept as their wire labels, so an answer echoes the
question exactly as asked (case included, which resolvers using 0x20 randomisation check).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_OPT = 41
TYPE_ANY = 255
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

OPCODE_QUERY = 0

HEADER_SIZE = 12
MAX_UDP_SIZE = 512  # without EDNS (RFC 1035 4.2.1)
MAX_MESSAGE_SIZE = 65535
MAX_NAME_LENGTH = 255  # wire length, including the length bytes and the root
MAX_LABEL_LENGTH = 63

_QR = 0x8000
_AA = 0x0400
_TC = 0x0200
_RD = 0x0100
_RA = 0x0080
_HEADER = struct.Struct("!HHHHHH")
_MIN_QUESTION = 5  # root name + type + class
_MIN_RECORD = 11  # root name + type + class + ttl + rdlength

Labels = tuple[bytes, ...]


class FormatError(ValueError):
    """The bytes are not a well-formed DNS message."""


@dataclass(frozen=True)
class Header:
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def qr(self) -> bool:
        return bool(self.flags & _QR)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def aa(self) -> bool:
        return bool(self.flags & _AA)

    @property
    def tc(self) -> bool:
        return bool(self.flags & _TC)

    @property
    def rd(self) -> bool:
        return bool(self.flags & _RD)

    @property
    def ra(self) -> bool:
        return bool(self.flags & _RA)

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


@dataclass(frozen=True)
class Question:
    labels: Labels
    qtype: int
    qclass: int

    @property
    def name(self) -> str:
        """Presentation form, without the trailing dot; see ``name_text``."""
        return name_text(self.labels)


@dataclass(frozen=True)
class Record:
    labels: Labels
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes

    @property
    def name(self) -> str:
        return name_text(self.labels)


@dataclass(frozen=True)
class Message:
    header: Header
    questions: tuple[Question, ...]
    answers: tuple[Record, ...]
    authorities: tuple[Record, ...]
    additionals: tuple[Record, ...]

    @property
    def edns_udp_size(self) -> int | None:
        """The UDP payload size the sender advertised in an OPT record (RFC 6891), if any."""
        for record in self.additionals:
            if record.rtype == TYPE_OPT:
                return record.rclass
        return None


# -- reading ------------------------------------------------------------------------------------


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise FormatError("message shorter than a header")
    return Header(*_HEADER.unpack_from(data))


def parse_message(data: bytes) -> Message:
    """Decode a whole message; trailing bytes after the last record are ignored."""
    header = parse_header(data)
    records = header.ancount + header.nscount + header.arcount
    # Reject impossible counts before looping over them.
    if header.qdcount * _MIN_QUESTION + records * _MIN_RECORD > len(data) - HEADER_SIZE:
        raise FormatError("section counts exceed the message length")
    offset = HEADER_SIZE
    questions = []
    for _ in range(header.qdcount):
        labels, offset = read_name(data, offset)
        qtype, qclass = _unpack("!HH", data, offset)
        offset += 4
        questions.append(Question(labels, qtype, qclass))
    sections: list[tuple[Record, ...]] = []
    for count in (header.ancount, header.nscount, header.arcount):
        section = []
        for _ in range(count):
            record, offset = _read_record(data, offset)
            section.append(record)
        sections.append(tuple(section))
    return Message(header, tuple(questions), *sections)


def read_name(data: bytes, offset: int) -> tuple[Labels, int]:
    """The name at ``offset`` and the offset just past it (past the first pointer, if any).

    A compression pointer must point strictly before the label it replaces, which makes loops
    impossible; the decoded name may not exceed 255 bytes.
    """
    labels: list[bytes] = []
    length = 1
    end: int | None = None
    position = offset
    while True:
        if position >= len(data):
            raise FormatError("name runs past the end of the message")
        size = data[position]
        kind = size & 0xC0
        if kind == 0xC0:
            if position + 1 >= len(data):
                raise FormatError("truncated compression pointer")
            target = ((size & 0x3F) << 8) | data[position + 1]
            if target >= position:
                raise FormatError("compression pointer does not point backwards")
            if end is None:
                end = position + 2
            position = target
            continue
        if kind:
            raise FormatError(f"unsupported label type {kind:#x}")
        if size == 0:
            return tuple(labels), (position + 1 if end is None else end)
        label = data[position + 1 : position + 1 + size]
        if len(label) != size:
            raise FormatError("label runs past the end of the message")
        length += size + 1
        if length > MAX_NAME_LENGTH:
            raise FormatError("name longer than 255 bytes")
        labels.append(label)
        position += size + 1


def _read_record(data: bytes, offset: int) -> tuple[Record, int]:
    labels, offset = read_name(data, offset)
    rtype, rclass, ttl, rdlength = _unpack("!HHIH", data, offset)
    offset += 10
    rdata = data[offset : offset + rdlength]
    if len(rdata) != rdlength:
        raise FormatError("record data runs past the end of the message")
    return Record(labels, rtype, rclass, ttl, rdata), offset + rdlength


def _unpack(layout: str, data: bytes, offset: int) -> tuple[int, ...]:
    try:
        return struct.unpack_from(layout, data, offset)
    except struct.error as exc:
        raise FormatError("message truncated") from exc


def name_text(labels: Labels) -> str:
    """Labels as dotted text without the trailing dot; the root is ``""``.

    Bytes that would make the text ambiguous (dots and backslashes inside a label, anything
    not printable ASCII) are escaped as ``\\.`` and ``\\DDD``, as ``dig`` shows them.
    """
    return ".".join(_label_text(label) for label in labels)


def _label_text(label: bytes) -> str:
    out = []
    for byte in label:
        if byte in b".\\":
            out.append("\\" + chr(byte))
        elif 0x21 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


# -- writing ------------------------------------------------------------------------------------


def name_labels(name: str) -> Labels:
    """Plain dotted text (no escapes; a trailing dot is allowed) as checked wire labels."""
    text = name.rstrip(".") if name != "." else ""
    labels = tuple(part.encode("ascii") for part in text.split(".")) if text else ()
    for label in labels:
        if not label or len(label) > MAX_LABEL_LENGTH:
            raise ValueError(f"invalid label in DNS name {name!r}")
    if sum(len(label) + 1 for label in labels) + 1 > MAX_NAME_LENGTH:
        raise ValueError(f"DNS name {name!r} is longer than 255 bytes")
    return labels


def encode_name(labels: Labels) -> bytes:
    """Uncompressed wire form of ``labels``."""
    out = bytearray()
    for label in labels:
        if not label or len(label) > MAX_LABEL_LENGTH:
            raise ValueError("DNS label must be 1 to 63 bytes")
        out.append(len(label))
        out += label
    out.append(0)
    if len(out) > MAX_NAME_LENGTH:
        raise ValueError("DNS name longer than 255 bytes")
    return bytes(out)


def a_record(labels: Labels, address: str, ttl: int) -> Record:
    return Record(labels, TYPE_A, CLASS_IN, ttl, ipaddress.IPv4Address(address).packed)


def aaaa_record(labels: Labels, address: str, ttl: int) -> Record:
    return Record(labels, TYPE_AAAA, CLASS_IN, ttl, ipaddress.IPv6Address(address).packed)


def ptr_record(labels: Labels, target: str, ttl: int) -> Record:
    return Record(labels, TYPE_PTR, CLASS_IN, ttl, encode_name(name_labels(target)))


def build_query(name: str, qtype: int, query_id: int, *, recursion_desired: bool = True) -> bytes:
    """A one-question query, as a stub resolver sends it."""
    flags = _RD if recursion_desired else 0
    return (
        _HEADER.pack(query_id, flags, 1, 0, 0, 0)
        + encode_name(name_labels(name))
        + struct.pack("!HH", qtype, CLASS_IN)
    )


def build_response(
    query: Message,
    rcode: int,
    answers: Sequence[Record] = (),
    *,
    authoritative: bool = False,
    max_size: int = MAX_MESSAGE_SIZE,
) -> bytes:
    """A reply to ``query``'s first question: ID, opcode and RD copied, RA set.

    Answers that would make the message exceed ``max_size`` are dropped from the end and the
    TC bit is set, so a UDP client retries over TCP.
    """
    header = query.header
    flags = _QR | (header.opcode << 11) | _RA | (header.flags & _RD) | (rcode & 0xF)
    if authoritative:
        flags |= _AA
    question = b""
    if query.questions:
        first = query.questions[0]
        question = encode_name(first.labels) + struct.pack("!HH", first.qtype, first.qclass)
    encoded = [_encode_record(record) for record in answers]
    size = HEADER_SIZE + len(question) + sum(len(record) for record in encoded)
    while encoded and size > max_size:
        size -= len(encoded.pop())
        flags |= _TC
    head = _HEADER.pack(header.id, flags, 1 if question else 0, len(encoded), 0, 0)
    return head + question + b"".join(encoded)


def error_response(header: Header, rcode: int) -> bytes:
    """A question-less error reply (FORMERR, NOTIMP …) for a query that could not be read."""
    flags = _QR | (header.opcode << 11) | _RA | (header.flags & _RD) | (rcode & 0xF)
    return _HEADER.pack(header.id, flags, 0, 0, 0, 0)


def _encode_record(record: Record) -> bytes:
    return (
        encode_name(record.labels)
        + struct.pack("!HHIH", record.rtype, record.rclass, record.ttl, len(record.rdata))
        + record.rdata
    )


def with_id(packet: bytes, message_id: int) -> bytes:
    """``packet`` with its 16-bit ID replaced (used to map forwarded IDs back)."""
    if len(packet) < 2:
        raise FormatError("message shorter than an ID")
    return struct.pack("!H", message_id) + packet[2:]


# -- reverse names ------------------------------------------------------------------------------


def reverse_name(address: str) -> str:
    """The PTR owner name of an IPv4 or IPv6 address, without the trailing dot."""
    return ipaddress.ip_address(address).reverse_pointer


def address_from_reverse_name(name: str) -> str | None:
    """The address a full ``in-addr.arpa``/``ip6.arpa`` name stands for, or None.

    Partial names (a reverse zone rather than one address) and anything malformed give None.
    """
    labels = name.lower().rstrip(".").split(".")
    if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
        octets = labels[3::-1]
        if all(
            octet.isascii() and octet.isdigit() and octet == str(int(octet)) for octet in octets
        ):
            try:
                return str(ipaddress.IPv4Address(".".join(octets)))
            except ValueError:
                return None
    if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
        nibbles = labels[31::-1]
        if all(len(nibble) == 1 and nibble in "0123456789abcdef" for nibble in nibbles):
            digits = "".join(nibbles)
            grouped = ":".join(digits[i : i + 4] for i in range(0, 32, 4))
            return str(ipaddress.IPv6Address(grouped))
    return None
