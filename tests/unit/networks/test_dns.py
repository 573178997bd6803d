"""Tests for the embedded DNS server: the wire codec, the answering rules and the live server."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest

from engine.networks import dns, dnswire, netns
from engine.networks.dns import EmbeddedDns, answer
from engine.networks.dnsforward import Forward, host_upstreams, parse_nameservers
from engine.networks.dnswire import (
    RCODE_FORMERR,
    RCODE_NOERROR,
    RCODE_NOTIMP,
    RCODE_NXDOMAIN,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_MX,
    TYPE_PTR,
    TYPE_TXT,
    FormatError,
    Message,
    build_query,
    build_response,
    parse_message,
)

# -- helpers ------------------------------------------------------------------------------------


class FakeResolver:
    def __init__(self) -> None:
        self.names = {
            "web": {TYPE_A: ["10.0.0.2", "10.0.0.3"], TYPE_AAAA: []},
            "db.mynet": {TYPE_A: ["10.0.0.4"], TYPE_AAAA: ["fd00::4"]},
        }
        self.addresses = {"10.0.0.2": "web.mynet", "fd00::4": "db.mynet"}
        self.lookups: list[tuple[str, int]] = []

    def lookup(self, name: str, qtype: int) -> list[str] | None:
        self.lookups.append((name, qtype))
        entry = self.names.get(name)
        return None if entry is None else list(entry.get(qtype, []))

    def reverse(self, address: str) -> str | None:
        return self.addresses.get(address)


class BrokenResolver:
    def lookup(self, name: str, qtype: int) -> list[str] | None:
        raise RuntimeError("boom")

    def reverse(self, address: str) -> str | None:
        raise RuntimeError("boom")


def header(
    msg_id: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!HHHHHH", msg_id, flags, qd, an, ns, ar)


def opt_record(udp_size: int) -> bytes:
    return b"\x00" + struct.pack("!HHIH", dnswire.TYPE_OPT, udp_size, 0, 0)


def addresses(reply: Message) -> set[str]:
    return {str(ipaddress.ip_address(record.rdata)) for record in reply.answers}


def ptr_target(reply: Message, packet: bytes) -> str:
    (record,) = reply.answers
    offset = packet.index(record.rdata)
    labels, _ = dnswire.read_name(packet, offset)
    return dnswire.name_text(labels)


def upstream_reply(
    query: Message, *, address: str | None = None, rcode: int = 0, flags: int = 0
) -> bytes:
    answers = [dnswire.a_record(query.questions[0].labels, address, 30)] if address else []
    reply = bytearray(build_response(query, rcode, answers))
    reply[2:4] = (int.from_bytes(reply[2:4], "big") | flags).to_bytes(2, "big")
    return bytes(reply)


# -- the codec ----------------------------------------------------------------------------------


def test_query_round_trip() -> None:
    message = parse_message(build_query("Web.MyNet.", TYPE_AAAA, 0xBEEF))
    assert message.header.id == 0xBEEF
    assert message.header.rd and not message.header.qr
    assert message.header.opcode == 0
    (question,) = message.questions
    assert question.labels == (b"Web", b"MyNet")
    assert question.name == "Web.MyNet"
    assert (question.qtype, question.qclass) == (TYPE_AAAA, dnswire.CLASS_IN)
    assert message.edns_udp_size is None


def test_response_round_trip_copies_id_question_and_rd() -> None:
    query = parse_message(build_query("WeB", TYPE_A, 77, recursion_desired=False))
    records = [dnswire.a_record(query.questions[0].labels, "10.1.2.3", 600)]
    reply = parse_message(build_response(query, RCODE_NOERROR, records))
    assert reply.header.id == 77
    assert reply.header.qr and reply.header.ra
    assert not reply.header.rd and not reply.header.aa and not reply.header.tc
    assert reply.questions == query.questions  # case preserved for 0x20 checks
    (record,) = reply.answers
    assert (record.name, record.rtype, record.ttl) == ("WeB", TYPE_A, 600)
    assert record.rdata == bytes([10, 1, 2, 3])


def test_ptr_and_aaaa_records_encode() -> None:
    query = parse_message(build_query("4.0.0.10.in-addr.arpa", TYPE_PTR, 1))
    packet = build_response(
        query, RCODE_NOERROR, [dnswire.ptr_record(query.questions[0].labels, "db.mynet", 600)]
    )
    assert ptr_target(parse_message(packet), packet) == "db.mynet"
    record = dnswire.aaaa_record((b"x",), "fd00::1", 5)
    assert record.rdata == ipaddress.IPv6Address("fd00::1").packed


def test_compressed_names_are_read() -> None:
    question = dnswire.encode_name((b"www", b"example", b"com")) + struct.pack("!HH", 1, 1)
    # First answer points at the question name; the second at "example.com" plus a label.
    first = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([1, 2, 3, 4])
    second = b"\x03api\xc0\x10" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([5, 6, 7, 8])
    packet = header(flags=0x8180, an=2) + question + first + second
    message = parse_message(packet)
    assert [record.name for record in message.answers] == ["www.example.com", "api.example.com"]
    assert message.answers[1].rdata == bytes([5, 6, 7, 8])


def test_edns_opt_record_is_tolerated() -> None:
    packet = header(ar=1)[:12] + build_query("web", TYPE_A, 1)[12:] + opt_record(1232)
    message = parse_message(packet)
    assert message.edns_udp_size == 1232
    assert message.questions[0].name == "web"


def test_error_builders() -> None:
    query = parse_message(build_query("nowhere", TYPE_A, 9))
    assert parse_message(build_response(query, RCODE_NXDOMAIN)).header.rcode == RCODE_NXDOMAIN
    servfail = parse_message(build_response(query, RCODE_SERVFAIL))
    assert (servfail.header.rcode, servfail.header.id) == (RCODE_SERVFAIL, 9)
    assert servfail.questions == query.questions
    formerr = parse_message(dnswire.error_response(query.header, RCODE_FORMERR))
    assert (formerr.header.rcode, formerr.header.id, formerr.questions) == (RCODE_FORMERR, 9, ())
    assert formerr.header.qr


def test_answers_that_do_not_fit_are_truncated() -> None:
    query = parse_message(build_query("many", TYPE_A, 1))
    labels = query.questions[0].labels
    records = [dnswire.a_record(labels, f"10.0.{i // 256}.{i % 256}", 600) for i in range(100)]
    packet = build_response(query, RCODE_NOERROR, records, max_size=512)
    reply = parse_message(packet)
    assert len(packet) <= 512
    assert reply.header.tc
    assert 0 < len(reply.answers) < 100


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(header()[:11], id="short-header"),
        pytest.param(header() + b"\x03ww", id="truncated-label"),
        pytest.param(header() + b"\x03www\x00\x00", id="truncated-question"),
        pytest.param(header() + b"\xc0\x0c" + b"\x00\x01\x00\x01", id="pointer-to-itself"),
        pytest.param(header() + b"\xc0\x10\x00\x00\x00\x01\x00\x01", id="pointer-forwards"),
        pytest.param(header() + b"\xc0", id="truncated-pointer"),
        pytest.param(header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", id="label-64"),
        pytest.param(header() + b"\x80abc\x00\x00\x01\x00\x01", id="reserved-label-type"),
        pytest.param(header(qd=65535) + b"\x00\x00\x01\x00\x01", id="huge-qdcount"),
        pytest.param(header(ar=65535) + b"\x00\x00\x01\x00\x01", id="huge-arcount"),
        pytest.param(
            header()
            + b"\x3f"
            + b"a" * 63
            + b"\x3f"
            + b"b" * 63
            + b"\x3f"
            + b"c" * 63
            # 4 x 64 bytes of labels: past the 255-byte limit
            + b"\x3f"
            + b"d" * 63
            + b"\x00\x00\x01\x00\x01",
            id="name-too-long",
        ),
        pytest.param(
            header(an=1)
            + b"\x00\x00\x01\x00\x01"
            + b"\x00"
            + struct.pack("!HHIH", 1, 1, 0, 200)
            + b"\x01\x02",
            id="rdata-past-end",
        ),
    ],
)
def test_hostile_packets_raise_format_error(packet: bytes) -> None:
    with pytest.raises(FormatError):
        parse_message(packet)


def test_compression_loop_between_two_pointers_is_rejected() -> None:
    # Offset 12 points to 14, which points back to 12: the forward hop is refused.
    packet = header() + b"\xc0\x0e\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(FormatError):
        parse_message(packet)


def test_huge_counts_fail_fast() -> None:
    packet = header(qd=65535, an=65535, ns=65535, ar=65535) + b"\x00" * 500
    started = time.monotonic()
    with pytest.raises(FormatError):
        parse_message(packet)
    assert time.monotonic() - started < 0.1


@pytest.mark.parametrize("name", ["a" * 64 + ".com", "a..b", ".".join(["abcdefgh"] * 30)])
def test_invalid_names_are_not_written(name: str) -> None:
    with pytest.raises(ValueError):
        build_query(name, TYPE_A, 1)


def test_name_text_escapes_ambiguous_bytes() -> None:
    assert dnswire.name_text((b"a.b", b"c\\", b"\x00\xff")) == "a\\.b.c\\\\.\\000\\255"
    assert dnswire.name_text(()) == ""


@pytest.mark.parametrize("address", ["10.0.0.2", "192.168.255.1", "fd00::4", "2001:db8::1:0:5"])
def test_reverse_names_round_trip(address: str) -> None:
    name = dnswire.reverse_name(address)
    assert dnswire.address_from_reverse_name(name) == str(ipaddress.ip_address(address))
    assert dnswire.address_from_reverse_name(name.upper() + ".") == str(
        ipaddress.ip_address(address)
    )


@pytest.mark.parametrize(
    "name",
    [
        "0.10.in-addr.arpa",
        "2.0.0.010.in-addr.arpa",
        "2.0.0.256.in-addr.arpa",
        "2.0.0.x.in-addr.arpa",
        "1.0.ip6.arpa",
        "example.com",
        "",
    ],
)
def test_partial_or_bad_reverse_names(name: str) -> None:
    assert dnswire.address_from_reverse_name(name) is None


# -- deciding what to answer --------------------------------------------------------------------


def decide(packet: bytes, resolver: object | None = None) -> bytes | Forward | None:
    return answer(packet, resolver or FakeResolver(), tcp=False)  # type: ignore[arg-type]


def test_local_a_answer() -> None:
    resolver = FakeResolver()
    reply = decide(build_query("WEB.", TYPE_A, 5), resolver)
    assert isinstance(reply, bytes)
    message = parse_message(reply)
    assert message.header.rcode == RCODE_NOERROR
    assert addresses(message) == {"10.0.0.2", "10.0.0.3"}
    assert {record.ttl for record in message.answers} == {600}
    assert resolver.lookups == [("web", TYPE_A)]  # lower-cased, no trailing dot


def test_other_types_for_our_names_are_no_data() -> None:
    for qtype in (TYPE_MX, TYPE_TXT):
        reply = decide(build_query("web", qtype, 5))
        assert isinstance(reply, bytes)
        message = parse_message(reply)
        assert (message.header.rcode, message.answers) == (RCODE_NOERROR, ())


def test_unknown_names_and_classes_are_forwarded() -> None:
    packet = build_query("example.com", TYPE_A, 5)
    decision = decide(packet)
    assert isinstance(decision, Forward) and decision.packet == packet
    assert isinstance(decide(build_query("example.com", TYPE_MX, 5)), Forward)
    assert isinstance(decide(build_query("9.9.9.9.in-addr.arpa", TYPE_PTR, 5)), Forward)
    chaos = bytearray(build_query("web", TYPE_A, 5))
    chaos[-2:] = b"\x00\x03"
    assert isinstance(decide(bytes(chaos)), Forward)


def test_broken_resolver_gives_servfail() -> None:
    reply = decide(build_query("web", TYPE_A, 5), BrokenResolver())
    assert isinstance(reply, bytes)
    assert parse_message(reply).header.rcode == RCODE_SERVFAIL


def test_malformed_queries() -> None:
    assert decide(b"\x12\x34\x01") is None  # no header: dropped
    assert decide(upstream_reply(parse_message(build_query("web", TYPE_A, 1)))) is None
    formerr = decide(header() + b"\xc0\x0c\x00\x01\x00\x01")
    assert isinstance(formerr, bytes)
    assert parse_message(formerr).header.rcode == RCODE_FORMERR
    two = decide(header(qd=2) + (b"\x03web\x00\x00\x01\x00\x01" * 2))
    assert isinstance(two, bytes) and parse_message(two).header.rcode == RCODE_FORMERR
    none = decide(header(qd=0))
    assert isinstance(none, bytes) and parse_message(none).header.rcode == RCODE_FORMERR
    status = decide(header(flags=2 << 11) + b"\x03web\x00\x00\x01\x00\x01")
    assert isinstance(status, bytes) and parse_message(status).header.rcode == RCODE_NOTIMP


def test_udp_size_follows_edns() -> None:
    resolver = FakeResolver()
    resolver.names["big"] = {TYPE_A: [f"10.1.{i // 256}.{i % 256}" for i in range(100)]}
    plain = decide(build_query("big", TYPE_A, 1), resolver)
    assert isinstance(plain, bytes) and len(plain) <= 512 and parse_message(plain).header.tc
    query = bytearray(build_query("big", TYPE_A, 1) + opt_record(4096))
    query[11] = 1  # arcount
    large = decide(bytes(query), resolver)
    assert isinstance(large, bytes)
    assert len(parse_message(large).answers) == 100 and not parse_message(large).header.tc
    tcp = answer(build_query("big", TYPE_A, 1), resolver, tcp=True)
    assert isinstance(tcp, bytes) and len(parse_message(tcp).answers) == 100


# -- upstreams from resolv.conf -----------------------------------------------------------------


def test_parse_nameservers() -> None:
    text = (
        "# generated\nsearch example.com\nnameserver 127.0.0.53\n; comment\n"
        "nameserver fe80::1%eth0\nnameserver not-an-ip\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n"
    )
    assert parse_nameservers(text) == [("127.0.0.53", 53), ("fe80::1%eth0", 53), ("1.1.1.1", 53)]


def test_host_upstreams_rereads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    assert host_upstreams(str(path)) == []
    path.write_text("nameserver 10.0.0.1\n")
    assert host_upstreams(str(path)) == [("10.0.0.1", 53)]
    replacement = tmp_path / "new"
    replacement.write_text("nameserver 10.0.0.2\n")
    replacement.rename(path)
    assert host_upstreams(str(path)) == [("10.0.0.2", 53)]
    path.write_text("nameserver 10.0.0.33\n")
    os.utime(path, ns=(1, 1))
    assert host_upstreams(str(path)) == [("10.0.0.33", 53)]


# -- the live server on loopback ----------------------------------------------------------------


Responder = Callable[[Message], bytes | None]


class FakeUpstream:
    """A DNS server on 127.0.0.1 (UDP and TCP on one port) answering with ``respond``."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.queries: list[tuple[str, Message]] = []
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._transport: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", 0)
            port = tcp.sockets[0].getsockname()[1]
            try:
                self._transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UpstreamUdp(self), local_addr=("127.0.0.1", port)
                )
            except OSError:
                tcp.close()
                continue
            self._tcp = tcp
            self.address = ("127.0.0.1", port)
            return self.address
        raise RuntimeError("no free port for the fake upstream")

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    def handle(self, transport: str, packet: bytes) -> bytes | None:
        query = parse_message(packet)
        self.queries.append((transport, query))
        return self.respond(query)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = self.handle("tcp", await reader.readexactly(size))
            if reply is not None:
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        finally:
            writer.close()


class _UpstreamUdp(asyncio.DatagramProtocol):
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.upstream.handle("udp", data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def example_com(query: Message) -> bytes:
    return upstream_reply(query, address="93.184.216.34")


def silent(query: Message) -> None:
    return None


async def udp_exchange(address: tuple[str, int], packet: bytes, wait: float = 2.0) -> bytes | None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
        await loop.sock_sendall(sock, packet)
        try:
            async with asyncio.timeout(wait):
                return await loop.sock_recv(sock, 65535)
        except OSError:  # timed out, or refused once the server is gone
            return None


async def tcp_exchange(address: tuple[str, int], packet: bytes) -> bytes:
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection(*address)
        try:
            writer.write(len(packet).to_bytes(2, "big") + packet)
            size = int.from_bytes(await reader.readexactly(2), "big")
            return await reader.readexactly(size)
        finally:
            writer.close()


class Harness:
    def __init__(self, server: EmbeddedDns, address: tuple[str, int]) -> None:
        self.server = server
        self.address = address
        self.upstreams: list[tuple[str, int]] = []

    async def udp(self, packet: bytes, wait: float = 2.0) -> Message | None:
        reply = await udp_exchange(self.address, packet, wait)
        return None if reply is None else parse_message(reply)

    async def tcp(self, packet: bytes) -> Message:
        return parse_message(await tcp_exchange(self.address, packet))


def loopback_sockets() -> tuple[socket.socket, socket.socket]:
    for _ in range(20):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            tcp.close()
            udp.close()
            continue
        tcp.listen(8)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise RuntimeError("no free port")


async def make_harness(**options: object) -> Harness:
    upstreams: list[tuple[str, int]] = []
    server = EmbeddedDns(lambda: upstreams, **options)  # type: ignore[arg-type]
    sockets = loopback_sockets()
    address = sockets[0].getsockname()
    await server.attach("c1", sockets, FakeResolver())
    harness = Harness(server, address)
    harness.upstreams = upstreams
    return harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    harness = await make_harness(timeout=0.3)
    yield harness
    await harness.server.close()


StartUpstream = Callable[[Responder], Awaitable[FakeUpstream]]


@pytest.fixture
async def upstream_factory() -> AsyncIterator[StartUpstream]:
    started: list[FakeUpstream] = []

    async def start(respond: Responder) -> FakeUpstream:
        upstream = FakeUpstream(respond)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.stop()


async def test_server_answers_a_locally(harness: Harness) -> None:
    reply = await harness.udp(build_query("web", TYPE_A, 0x4242))
    assert reply is not None
    assert reply.header.id == 0x4242
    assert reply.header.ra and reply.header.rd and not reply.header.aa
    assert addresses(reply) == {"10.0.0.2", "10.0.0.3"}


async def test_server_aaaa_without_address_is_no_data(harness: Harness) -> None:
    reply = await harness.udp(build_query("web", TYPE_AAAA, 1))
    assert reply is not None
    assert (reply.header.rcode, reply.answers) == (RCODE_NOERROR, ())
    reply = await harness.udp(build_query("db.mynet", TYPE_AAAA, 1))
    assert reply is not None and addresses(reply) == {"fd00::4"}


async def test_server_answers_ptr(harness: Harness) -> None:
    packet = await udp_exchange(harness.address, build_query("2.0.0.10.in-addr.arpa", TYPE_PTR, 3))
    assert packet is not None
    reply = parse_message(packet)
    assert reply.answers[0].ttl == 600
    assert ptr_target(reply, packet) == "web.mynet"
    packet = await udp_exchange(
        harness.address, build_query(dnswire.reverse_name("fd00::4"), TYPE_PTR, 3)
    )
    assert packet is not None and ptr_target(parse_message(packet), packet) == "db.mynet"


async def test_server_forwards_unknown_names(
    harness: Harness, upstream_factory: StartUpstream
) -> None:
    upstream = await upstream_factory(example_com)
    harness.upstreams.append(upstream.address)
    query = build_query("Example.com", TYPE_A, 0x0102)
    reply = await harness.udp(query)
    assert reply is not None
    assert reply.header.id == 0x0102
    assert addresses(reply) == {"93.184.216.34"}
    assert reply.answers[0].ttl == 30  # relayed, not rebuilt
    ((transport, seen),) = upstream.queries
    assert transport == "udp"
    assert seen.questions == parse_message(query).questions


async def test_server_times_out_to_servfail(
    harness: Harness, upstream_factory: StartUpstream
) -> None:
    upstream = await upstream_factory(silent)
    harness.upstreams.append(upstream.address)
    started = time.monotonic()
    reply = await harness.udp(build_query("example.com", TYPE_A, 7))
    assert reply is not None
    assert (reply.header.rcode, reply.header.id) == (RCODE_SERVFAIL, 7)
    assert 0.25 < time.monotonic() - started < 1.5
    assert len(upstream.queries) == 1


async def test_server_without_upstreams_is_servfail(harness: Harness) -> None:
    reply = await harness.udp(build_query("example.com", TYPE_A, 7))
    assert reply is not None and reply.header.rcode == RCODE_SERVFAIL


async def test_server_tries_next_upstream(
    harness: Harness, upstream_factory: StartUpstream
) -> None:
    failing = await upstream_factory(lambda q: upstream_reply(q, rcode=RCODE_SERVFAIL))
    mute = await upstream_factory(silent)
    working = await upstream_factory(example_com)
    harness.upstreams.extend([failing.address, mute.address, working.address])
    reply = await harness.udp(build_query("example.com", TYPE_A, 7))
    assert reply is not None and addresses(reply) == {"93.184.216.34"}
    assert [len(u.queries) for u in (failing, mute, working)] == [1, 1, 1]


async def test_server_relays_truncated_replies(
    harness: Harness, upstream_factory: StartUpstream
) -> None:
    upstream = await upstream_factory(lambda q: upstream_reply(q, flags=0x0200))
    harness.upstreams.append(upstream.address)
    reply = await harness.udp(build_query("big.example.com", TYPE_TXT, 7))
    assert reply is not None and reply.header.tc and reply.header.id == 7


async def test_server_over_tcp(harness: Harness, upstream_factory: StartUpstream) -> None:
    upstream = await upstream_factory(example_com)
    harness.upstreams.append(upstream.address)
    local = await harness.tcp(build_query("web", TYPE_A, 11))
    assert addresses(local) == {"10.0.0.2", "10.0.0.3"} and local.header.id == 11
    forwarded = await harness.tcp(build_query("example.com", TYPE_A, 12))
    assert addresses(forwarded) == {"93.184.216.34"} and forwarded.header.id == 12
    assert [transport for transport, _ in upstream.queries] == ["tcp"]


async def test_server_tcp_pipelines_queries(harness: Harness) -> None:
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection(*harness.address)
        for msg_id in (1, 2):
            packet = build_query("db.mynet", TYPE_A, msg_id)
            writer.write(len(packet).to_bytes(2, "big") + packet)
        ids = []
        for _ in range(2):
            size = int.from_bytes(await reader.readexactly(2), "big")
            ids.append(parse_message(await reader.readexactly(size)).header.id)
        writer.close()
    assert ids == [1, 2]


async def test_forward_limit_drops_excess(upstream_factory: StartUpstream) -> None:
    harness = await make_harness(timeout=0.5, max_forwards=2)
    try:
        upstream = await upstream_factory(silent)
        harness.upstreams.append(upstream.address)
        queries = [build_query(f"n{i}.example.com", TYPE_A, i) for i in range(5)]
        replies = await asyncio.gather(*(harness.udp(q, wait=1.5) for q in queries))
        assert len(upstream.queries) == 2
        answered = [reply for reply in replies if reply is not None]
        assert len(answered) == 2
        assert {reply.header.rcode for reply in answered} == {RCODE_SERVFAIL}
        # The slots are free again once those queries have finished.
        assert await harness.udp(build_query("web", TYPE_A, 9)) is not None
        assert await harness.udp(build_query("again.example.com", TYPE_A, 9)) is not None
    finally:
        await harness.server.close()


async def test_hostile_clients_do_not_stop_the_server(harness: Harness) -> None:
    assert await harness.udp(b"\x00\x01garbage"[:5], wait=0.3) is None
    loop_packet = header(msg_id=99) + b"\xc0\x0c\x00\x01\x00\x01"
    reply = await harness.udp(loop_packet)
    assert reply is not None and (reply.header.rcode, reply.header.id) == (RCODE_FORMERR, 99)
    # A TCP client that sends half a message and stalls does not block anyone else.
    _, stalled = await asyncio.open_connection(*harness.address)
    stalled.write(b"\x00\x40\x12")
    await stalled.drain()
    assert addresses(await harness.tcp(build_query("web", TYPE_A, 1))) == {"10.0.0.2", "10.0.0.3"}
    reply = await harness.udp(build_query("web", TYPE_A, 2))
    assert reply is not None and reply.header.id == 2
    stalled.close()


async def test_detach_closes_sockets_and_tasks() -> None:
    server = EmbeddedDns(lambda: [], timeout=0.2)
    sockets = loopback_sockets()
    address = sockets[0].getsockname()
    await server.attach("c1", sockets, FakeResolver())
    _, idle = await asyncio.open_connection(*address)  # an open connection owns a task
    await asyncio.sleep(0.05)
    await server.detach("c1")
    await server.detach("c1")  # idempotent
    assert [s.fileno() for s in sockets] == [-1, -1]
    assert await udp_exchange(address, build_query("web", TYPE_A, 1), wait=0.3) is None
    idle.close()
    await server.close()


async def test_close_cancels_every_task() -> None:
    server = EmbeddedDns(lambda: [], timeout=0.2)
    pairs = [loopback_sockets(), loopback_sockets()]
    for index, pair in enumerate(pairs):
        await server.attach(f"c{index}", pair, FakeResolver())
    before = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert len(before) >= 2  # one accept loop per server
    await server.close()
    left = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert not left
    assert all(s.fileno() == -1 for pair in pairs for s in pair)


# -- sockets inside a private network namespace --------------------------------------------------


def _loopback_up() -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        (index,) = ipr.link_lookup(ifname="lo")
        ipr.link("set", index=index, state="up")


def _query_inside(address: str, packet: bytes, tcp: bool) -> bytes:
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(3)
        sock.connect((address, 53))
        if not tcp:
            sock.send(packet)
            return sock.recv(65535)
        sock.sendall(len(packet).to_bytes(2, "big") + packet)
        size = int.from_bytes(sock.recv(2, socket.MSG_WAITALL), "big")
        return sock.recv(size, socket.MSG_WAITALL)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
async def test_sockets_in_private_netns(tmp_path: Path, upstream_factory: StartUpstream) -> None:
    path = tmp_path / "netns"
    await asyncio.to_thread(netns.create, path)
    upstreams: list[tuple[str, int]] = []
    server = EmbeddedDns(lambda: upstreams, timeout=1.0)
    try:
        await asyncio.to_thread(netns.run_in, path, _loopback_up)
        sockets = await asyncio.to_thread(dns.create_sockets_in_netns, str(path))
        assert sockets[0].getsockname() == (dns.DNS_ADDRESS, 53)
        await server.attach("c1", sockets, FakeResolver())

        def ask(name: str, tcp: bool) -> Message:
            packet = build_query(name, TYPE_A, 0x5151)
            return parse_message(_query_inside(dns.DNS_ADDRESS, packet, tcp))

        local = await asyncio.to_thread(netns.run_in, path, lambda: ask("web", False))
        assert addresses(local) == {"10.0.0.2", "10.0.0.3"}
        over_tcp = await asyncio.to_thread(netns.run_in, path, lambda: ask("db.mynet", True))
        assert addresses(over_tcp) == {"10.0.0.4"}
        # The upstream listens on the host's loopback, unreachable from inside the namespace:
        # an answer proves forwarding happens from the host namespace.
        upstream = await upstream_factory(example_com)
        upstreams.append(upstream.address)
        forwarded = await asyncio.to_thread(netns.run_in, path, lambda: ask("example.com", False))
        assert addresses(forwarded) == {"93.184.216.34"} and forwarded.header.id == 0x5151
    finally:
        await server.close()
        await asyncio.to_thread(netns.remove, path)
