"""The rtnetlink client: its parsers against truncated and garbled input, its answers against
pyroute2's in a network namespace the tests set up, the bridge it makes, and an idle engine
that never loads pyroute2."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.networks import links, netlink, netns
from engine.networks.netlink import RouteSocket
from engine.networks.netlinkwire import (
    IFA_ADDRESS,
    IFA_FLAGS,
    IFA_LOCAL,
    IFF_UP,
    IFLA_IFNAME,
    NLM_F_DUMP_INTR,
    NLM_F_MULTI,
    NLMSG_DONE,
    NLMSG_ERROR,
    RTM_NEWADDR,
    RTM_NEWLINK,
    InterfaceAddress,
    Link,
    encode_attribute,
    encode_request,
    parse_address,
    parse_link,
    parse_messages,
    parse_route,
)
from tests.support.engine import remove_network_state, short_root, unique_bridge_name

T = TypeVar("T")

NODAD = 0x02
TABLE_BIG = 1000  # past 255: only RTA_TABLE can say it
MANY = 400  # addresses and routes enough for dumps of several datagrams

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def _address_message(seq: int = 1, flags: int = 0) -> bytes:
    body = struct.pack("=BBBBI", socket.AF_INET, 24, 0x80, 0, 7)
    body += encode_attribute(IFA_ADDRESS, socket.inet_aton("10.1.2.3"))
    body += encode_attribute(IFA_LOCAL, socket.inet_aton("10.1.2.3"))
    body += encode_attribute(IFA_FLAGS, struct.pack("=I", 0x100))
    return encode_request(RTM_NEWADDR, flags, seq, body)


def _error_message(seq: int, code: int, kind: int = NLMSG_ERROR) -> bytes:
    return encode_request(kind, 0, seq, struct.pack("=i", -code) + b"\0" * 16)


# -- parsing --------------------------------------------------------------------------------


def test_a_message_round_trips() -> None:
    (message,) = parse_messages(_address_message(seq=9))
    assert (message.type, message.seq) == (RTM_NEWADDR, 9)
    assert parse_address(message.payload) == InterfaceAddress(
        family=socket.AF_INET,
        index=7,
        prefixlen=24,
        flags=0x100,  # IFA_FLAGS wins over the header's byte
        scope=0,
        address="10.1.2.3",
        local="10.1.2.3",
    )


def test_a_datagram_cut_anywhere_raises() -> None:
    data = _address_message() + _address_message(seq=2)
    first = len(_address_message())
    for cut in range(1, len(data)):
        if cut == first:
            assert len(list(parse_messages(data[:cut]))) == 1
            continue
        with pytest.raises(OSError) as caught:
            list(parse_messages(data[:cut]))
        assert caught.value.errno == errno.EBADMSG


def test_lengths_that_would_never_advance_raise() -> None:
    for length in (0, 15):
        header = struct.pack("=IHHII", length, RTM_NEWADDR, 0, 1, 0) + b"\0" * 32
        with pytest.raises(OSError, match="malformed"):
            list(parse_messages(header))
    ifinfomsg = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 1, 0, 0)
    for garbled in (b"\0\0\0\0", b"\x03\0\x03\0", b"\xff\x00\x03\x00lo\0\0"):
        with pytest.raises(OSError, match="malformed"):
            parse_link(ifinfomsg + garbled)


def test_short_headers_and_wrong_address_sizes_raise() -> None:
    with pytest.raises(OSError, match="ifaddrmsg"):
        parse_address(b"\x02\x18\x00")
    with pytest.raises(OSError, match="rtmsg"):
        parse_route(b"\x02" * 11)
    bad = struct.pack("=BBBBI", socket.AF_INET6, 64, 0, 0, 1)
    bad += encode_attribute(IFA_ADDRESS, socket.inet_aton("10.0.0.1"))
    with pytest.raises(OSError, match="IFA_ADDRESS of 4 bytes"):
        parse_address(bad)


def test_random_bytes_parse_or_raise_oserror() -> None:
    source = random.Random(1412)
    seeds = [_address_message(), _address_message(seq=2)]
    for _ in range(3000):
        blob = bytearray(source.choice(seeds) * source.randint(1, 3))
        for _ in range(source.randint(1, 6)):
            blob[source.randrange(len(blob))] = source.randrange(256)
        blob = blob[: source.randint(0, len(blob))]
        try:
            for message in parse_messages(bytes(blob)):
                for parse in (parse_link, parse_address, parse_route):
                    try:
                        parse(message.payload)
                    except OSError as exc:
                        assert exc.errno == errno.EBADMSG
        except OSError as exc:
            assert exc.errno == errno.EBADMSG


# -- the exchange, with the kernel's side replaced --------------------------------------------


def _feeding(rt: RouteSocket, replies: Callable[[int], list[bytes]]) -> list[int]:
    """Make ``rt`` read ``replies(seq)`` for each request instead of the kernel's answers;
    returns the list of the sequence numbers asked for."""
    asked: list[int] = []
    pending: list[bytes] = []

    def receive() -> bytes:
        if not asked or asked[-1] != rt._seq:
            asked.append(rt._seq)
            pending.extend(replies(rt._seq))
        return pending.pop(0)

    rt._receive = receive  # type: ignore[method-assign]
    return asked


def test_a_truncated_reply_raises_instead_of_waiting() -> None:
    with RouteSocket() as rt:
        _feeding(rt, lambda seq: [_address_message(seq, NLM_F_MULTI)[:-3]])
        with pytest.raises(OSError) as caught:
            rt.addresses()
        assert caught.value.errno == errno.EBADMSG


def test_kernel_errors_raise_with_their_errno() -> None:
    with RouteSocket() as rt:
        _feeding(rt, lambda seq: [_error_message(seq, errno.EPERM)])
        with pytest.raises(PermissionError):
            rt.routes(socket.AF_INET)
    with RouteSocket() as rt:
        # a dump's end carries its error too; replies to other requests are skipped
        _feeding(
            rt,
            lambda seq: [
                _address_message(seq + 5, NLM_F_MULTI),
                _address_message(seq, NLM_F_MULTI) + _error_message(seq, errno.EIO, NLMSG_DONE),
            ],
        )
        with pytest.raises(OSError) as caught:
            rt.addresses()
        assert caught.value.errno == errno.EIO


def _dump_reply(seq: int, interrupted: bool) -> list[bytes]:
    flags = NLM_F_MULTI | (NLM_F_DUMP_INTR if interrupted else 0)
    done = encode_request(NLMSG_DONE, flags, seq, struct.pack("=i", 0))
    return [_address_message(seq, flags) + done]


def test_an_interrupted_dump_is_redone() -> None:
    with RouteSocket() as rt:
        asked = _feeding(rt, lambda seq: _dump_reply(seq, interrupted=seq == 1))
        assert [a.address for a in rt.addresses()] == ["10.1.2.3"]
        assert asked == [1, 2]
    with RouteSocket() as rt:
        _feeding(rt, lambda seq: _dump_reply(seq, interrupted=True))
        with pytest.raises(OSError, match="interrupted"):
            rt.addresses()


def test_the_hosts_loopback_is_found_by_name() -> None:
    with RouteSocket() as rt:
        loopback = rt.link("lo")
        assert loopback is not None and loopback.index == socket.if_nametoindex("lo")
        assert rt.link("no-such-link0") is None
        assert rt.link("x" * 16) is None  # longer than any link name can be
        assert rt.link("") is None


# -- against pyroute2, in a namespace of the tests' own ------------------------------------


def _set_up_namespace() -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for n in range(3):
            ipr.link("add", ifname=f"nltest{n}", kind="veth", peer=f"nlpeer{n}")
        ipr.link("add", ifname="nlbr0", kind="bridge")
        names = ("nltest0", "nlpeer0", "nltest2", "nlpeer2", "nlbr0")  # the nltest1 pair: down
        for name in names:
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        one, two, bridge = (ipr.link_lookup(ifname=n)[0] for n in ("nltest0", "nltest2", "nlbr0"))
        ipr.addr("add", index=one, address="10.77.1.2", prefixlen=24)
        ipr.addr("add", index=one, address="fd77:1::2", prefixlen=64, flags=NODAD)
        # a point-to-point address: our end (IFA_LOCAL) and the peer's (IFA_ADDRESS)
        ipr.addr("add", index=one, local="10.77.9.1", address="10.77.9.2", prefixlen=32)
        ipr.addr("add", index=bridge, address="10.77.2.1", prefixlen=24)
        ipr.route("add", dst="0.0.0.0/0", gateway="10.77.1.254")
        ipr.route("add", dst="10.88.0.0/16", gateway="10.77.1.254")
        ipr.route("add", dst="fd88::/48", gateway="fd77:1::fe")
        ipr.route("add", dst="::/0", gateway="fd77:1::fe")
        ipr.route("add", dst="10.99.0.0/16", gateway="10.77.1.254", table=TABLE_BIG)
        ipr.route("add", dst="fd99::/48", gateway="fd77:1::fe", table=TABLE_BIG)
        for n in range(MANY):
            ipr.addr("add", index=two, address=f"10.66.{n // 256}.{n % 256}", prefixlen=32)
            ipr.route("add", dst=f"10.55.{n // 256}.{n % 256}/32", oif=two)


@pytest.fixture(scope="module")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    path = tmp_path_factory.mktemp("netlink") / "ns"
    netns.create(path)
    try:
        netns.run_in(path, _set_up_namespace)
        yield path
    finally:
        netns.remove(path)


def _inside(path: Path, work: Callable[[], T]) -> T:
    return netns.run_in(path, work)


def _pyroute2(work: Callable[[Any], T]) -> Callable[[], T]:
    def run() -> T:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            return work(ipr)

    return run


def _ours(work: Callable[[RouteSocket], T]) -> Callable[[], T]:
    def run() -> T:
        with RouteSocket() as rt:
            return work(rt)

    return run


def test_links_match_pyroute2s(namespace: Path) -> None:
    expected = _inside(
        namespace,
        _pyroute2(lambda ipr: {(m["index"], m.get("ifname"), m["flags"]) for m in ipr.get_links()}),
    )
    found = _inside(namespace, _ours(lambda rt: rt.links()))
    assert {(link.index, link.name, link.flags) for link in found} == expected
    by_name = {link.name: link for link in found}
    assert {"lo", "nltest0", "nltest1", "nltest2", "nlbr0"} <= set(by_name)
    assert by_name["nltest0"].up and not by_name["nltest1"].up
    single = _inside(namespace, _ours(lambda rt: rt.link("nlbr0")))
    assert single == by_name["nlbr0"]


def test_addresses_match_pyroute2s(namespace: Path) -> None:
    def pyroute2_addresses(ipr: Any) -> set[tuple[Any, ...]]:
        return {
            (m["family"], m["index"], m["prefixlen"], m.get("address"), m.get("local"))
            for m in ipr.get_addr()
        }

    expected = _inside(namespace, _pyroute2(pyroute2_addresses))
    datagrams: list[int] = []

    def ours(rt: RouteSocket) -> list[InterfaceAddress]:
        receive = rt._receive

        def counting() -> bytes:
            datagrams.append(1)
            return receive()

        rt._receive = counting  # type: ignore[method-assign]
        return rt.addresses()

    found = _inside(namespace, _ours(ours))
    assert {(a.family, a.index, a.prefixlen, a.address, a.local) for a in found} == expected
    assert len(datagrams) > 1, "the dump should have come in several parts"
    assert len(found) >= MANY + 4
    peer = [a for a in found if a.local == "10.77.9.1"]
    assert [(a.address, a.prefixlen) for a in peer] == [("10.77.9.2", 32)]
    v6 = [a for a in found if a.address == "fd77:1::2"]
    assert len(v6) == 1 and v6[0].flags & NODAD and v6[0].local is None
    index = _inside(namespace, lambda: socket.if_nametoindex("nlbr0"))
    only = _inside(namespace, _ours(lambda rt: rt.addresses(socket.AF_INET, index)))
    assert [(a.address, a.prefixlen) for a in only] == [("10.77.2.1", 24)]


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
@pytest.mark.parametrize("table", [netlink.RT_TABLE_MAIN, TABLE_BIG])
def test_routes_match_pyroute2s(namespace: Path, family: int, table: int) -> None:
    def pyroute2_routes(ipr: Any) -> list[str]:
        return sorted(
            f"{r.get('dst')}/{r['dst_len']}" for r in ipr.get_routes(family=family, table=table)
        )

    expected = _inside(namespace, _pyroute2(pyroute2_routes))
    found = _inside(namespace, _ours(lambda rt: rt.routes(family, table)))
    assert sorted(f"{r.dst}/{r.dst_len}" for r in found) == expected
    assert all(r.family == family and r.table == table for r in found)
    destinations = {(r.dst, r.dst_len) for r in found}
    if table == TABLE_BIG:
        wanted = ("10.99.0.0", 16) if family == socket.AF_INET else ("fd99::", 48)
        assert destinations == {wanted}
    elif family == socket.AF_INET:
        assert {(None, 0), ("10.88.0.0", 16), ("10.77.1.0", 24), ("10.55.1.143", 32)} <= (
            destinations
        )
        assert len(found) >= MANY + 3
    else:
        assert {(None, 0), ("fd88::", 48), ("fd77:1::", 64)} <= destinations


def test_kernel_refusals_raise_with_their_errno(namespace: Path) -> None:
    with pytest.raises(FileExistsError):
        _inside(namespace, _ours(lambda rt: rt.add_bridge("nlbr0")))
    interface = ipaddress.ip_interface("10.0.0.1/24")
    with pytest.raises(OSError) as caught:
        _inside(namespace, _ours(lambda rt: rt.add_address(999_999, interface)))
    assert caught.value.errno == errno.ENODEV


def test_ensure_bridge_makes_the_bridge_pyroute2_sees(
    namespace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wanted = [ipaddress.ip_interface("10.77.3.1/24"), ipaddress.ip_interface("fd77:3::1/64")]
    _inside(namespace, lambda: links.ensure_bridge("nlbr1", wanted, 1400))

    def seen(ipr: Any) -> tuple[Any, ...]:
        (link,) = ipr.get_links(ifname="nlbr1")
        addresses = sorted(
            f"{m.get('address')}/{m['prefixlen']}:{m.get('flags')}"
            for m in ipr.get_addr(index=link["index"])
            if not m.get("address").startswith("fe80")
        )
        kind = link.get(("linkinfo", "kind"))
        return kind, link.get("mtu"), link["flags"] & IFF_UP, addresses

    assert _inside(namespace, _pyroute2(seen)) == (
        "bridge",
        1400,
        IFF_UP,
        ["10.77.3.1/24:128", f"fd77:3::1/64:{128 | NODAD}"],  # permanent; v6 without DAD
    )
    found = _inside(namespace, lambda: links.bridge_addresses("nlbr1"))
    assert found is not None and sorted(map(str, found)) == sorted(map(str, wanted))
    assert _inside(namespace, lambda: links.bridge_addresses("nlbr9")) is None

    # In place as wanted: read, nothing written.
    def refuse(*args: object) -> None:
        raise AssertionError("a bridge in place was changed")

    for name in ("add_bridge", "add_address", "set_up"):
        monkeypatch.setattr(RouteSocket, name, refuse)
    _inside(namespace, lambda: links.ensure_bridge("nlbr1", wanted, 1400))
    monkeypatch.undo()

    # Down and short of an address: only what is missing is done.
    def take_down(ipr: Any) -> None:
        (index,) = ipr.link_lookup(ifname="nlbr1")
        ipr.link("set", index=index, state="down")
        ipr.addr("del", index=index, address="10.77.3.1", prefixlen=24)

    _inside(namespace, _pyroute2(take_down))
    monkeypatch.setattr(RouteSocket, "add_bridge", refuse)
    _inside(namespace, lambda: links.ensure_bridge("nlbr1", wanted, 1400))
    assert _inside(namespace, _pyroute2(seen))[2:] == (
        IFF_UP,
        ["10.77.3.1/24:128", f"fd77:3::1/64:{128 | NODAD}"],
    )


def test_a_link_without_operstate_is_up_by_its_flags() -> None:
    header = struct.pack("=BxHiII", socket.AF_UNSPEC, 1, 5, IFF_UP, 0)
    data = encode_request(
        RTM_NEWLINK, NLM_F_MULTI, 3, header + encode_attribute(IFLA_IFNAME, b"br0\0")
    )
    (message,) = parse_messages(data)
    assert (message.type, message.flags, message.seq) == (RTM_NEWLINK, NLM_F_MULTI, 3)
    assert parse_link(message.payload) == Link(5, "br0", IFF_UP, None)


# -- an idle engine -----------------------------------------------------------------------------

# Runs the engine in this process: once start-up is over (``/info`` answers), prints the
# modules loaded that an engine serving nothing should not hold, and stops it.
IDLE_ENGINE = r"""
import json, os, signal, sys, threading, time
from tests.support.engine import UnixHTTPConnection
socket_path = sys.argv[1]

def watch():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = UnixHTTPConnection(socket_path, timeout=30)
            conn.request("GET", "/info")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.05)
    unwanted = ("pyroute2.", "isal", "engine.images.pull", "engine.images.push")
    print(json.dumps(sorted(m for m in sys.modules if m.startswith(unwanted))), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=watch, daemon=True).start()
from engine.cli import main
main(["-H", "unix://" + socket_path, *sys.argv[2:]])
"""


@needs_root
@pytest.mark.skipif(shutil.which("nft") is None, reason="the engine needs nft")
def test_an_idle_engine_holds_no_pyroute2() -> None:
    root = short_root()
    bridge = unique_bridge_name()
    args = ["--data-root", f"{root}/data", "--exec-root", f"{root}/exec", "--bridge", bridge]
    try:
        # the first start makes the bridge, the second finds it
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", IDLE_ENGINE, f"{root}/doca.sock", *args],
                capture_output=True,
                text=True,
                timeout=90,
                cwd=Path(__file__).parents[3],
            )
            assert done.returncode in (0, -signal.SIGTERM), done.stderr[-3000:]
            assert json.loads(done.stdout.splitlines()[-1]) == [], done.stderr[-3000:]
    finally:
        remove_network_state(root / "data", bridge)
        shutil.rmtree(root, ignore_errors=True)
