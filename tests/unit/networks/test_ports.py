"""Tests for published ports: parsing PortBindings, holding host ports, NetworkSettings.Ports.

Binding tests run in a network namespace of their own, so 0.0.0.0 and :: are never bound on
the host.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.errors import InvalidParameter, SystemError_
from engine.networks import links, netns
from engine.networks.ports import (
    PortAllocator,
    PortBinding,
    PortSpec,
    ephemeral_port_range,
    parse_port_bindings,
    ports_view,
    validate_port_bindings,
)

T = TypeVar("T")
RunIn = Callable[[Callable[[], T]], T]

PREFIX = (
    "failed to set up container networking: driver failed programming external connectivity "
    "on endpoint web (ep1): "
)

# -- parsing ------------------------------------------------------------------------------------


def test_parse_the_api_shape() -> None:
    specs = parse_port_bindings(
        {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
            "443": [{"HostPort": "8000-8010"}],
        },
        None,
        False,
    )
    assert specs == [
        PortSpec("tcp", 80, "127.0.0.1", 8080, 8080),  # exact host ports come first
        PortSpec("udp", 53, "", 0, 0),
        PortSpec("tcp", 443, "", 8000, 8010),
    ]


def test_parse_normalises_protocol_addresses_and_null_entries() -> None:
    specs = parse_port_bindings(
        {"80/TCP": [None], "81/udp": [{"HostIp": "::ffff:127.0.0.1", "HostPort": "0"}]},
        None,
        False,
    )
    assert specs == [PortSpec("tcp", 80, "", 0, 0), PortSpec("udp", 81, "127.0.0.1", 0, 0)]
    v6 = parse_port_bindings({"80/tcp": [{"HostIp": "0:0::1", "HostPort": "80"}]}, None, False)
    assert v6 == [PortSpec("tcp", 80, "::1", 80, 80)]


def test_nothing_to_publish() -> None:
    assert parse_port_bindings(None, None, False) == []
    assert parse_port_bindings({}, {"80/tcp": {}}, False) == []
    assert parse_port_bindings({"80/tcp": None, "81/tcp": []}, None, False) == []


def test_publish_all_adds_a_random_port_for_each_exposed_port() -> None:
    specs = parse_port_bindings(
        {"80/tcp": [{"HostPort": "8080"}], "90/tcp": []},
        {"80/tcp": {}, "53/udp": {}, "7000": {}, "bogus/tcp": {}, "1-2/tcp": {}},
        True,
    )
    assert specs == [
        PortSpec("tcp", 80, "", 8080, 8080),
        PortSpec("udp", 53, "", 0, 0),
        PortSpec("tcp", 90, "", 0, 0),  # a published key with no binding counts as exposed
        PortSpec("tcp", 7000, "", 0, 0),
    ]


def test_one_port_may_be_published_twice() -> None:
    specs = parse_port_bindings(
        {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}, {"HostIp": "", "HostPort": ""}]},
        None,
        False,
    )
    assert specs == [PortSpec("tcp", 80, "", 0, 0), PortSpec("tcp", 80, "127.0.0.1", 0, 0)]


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ({"80/xyz": []}, "invalid proto: xyz"),
        ({"80/tcp/udp": []}, "invalid proto: tcp/udp"),
        ({"70000/tcp": []}, 'invalid port specification: "70000"'),
        ({"65536": []}, 'invalid port specification: "65536"'),
        ({"-1/tcp": []}, 'invalid port specification: "-1"'),
        ({"0/tcp": []}, 'invalid port specification: "0"'),
        ({"abc": []}, 'invalid port specification: "abc"'),
        ({"/tcp": []}, 'invalid port specification: ""'),
        ({"8000-8001/tcp": []}, 'invalid port specification: "8000-8001"'),
        ({" 80/tcp": []}, 'invalid port specification: " 80"'),
        ({"1" * 5000: []}, "invalid port specification: "),
        ({"80/tcp": [{"HostPort": "70000"}]}, 'invalid port specification: "70000"'),
        ({"80/tcp": [{"HostPort": "-1"}]}, 'invalid port specification: "-1"'),
        ({"80/tcp": [{"HostPort": "8010-8000"}]}, 'invalid port specification: "8010-8000"'),
        ({"80/tcp": [{"HostPort": "0-10"}]}, 'invalid port specification: "0-10"'),
        ({"80/tcp": [{"HostPort": "1-2-3"}]}, 'invalid port specification: "1-2-3"'),
        ({"80/tcp": [{"HostPort": "abc"}]}, 'invalid port specification: "abc"'),
        ({"80/tcp": [{"HostPort": "8080/tcp"}]}, 'invalid port specification: "8080/tcp"'),
        ({"80/tcp": [{"HostIp": "abc"}]}, "invalid IP address: abc"),
        ({"80/tcp": [{"HostIp": "1.2.3"}]}, "invalid IP address: 1.2.3"),
        ({"80/tcp": [{"HostIp": "[::1]"}]}, "invalid IP address: [::1]"),
        ({"80/tcp": [{"HostIp": "fe80::1%eth0"}]}, "invalid IP address: fe80::1%eth0"),
        ({"80/tcp": [{"HostIp": "010.0.0.1"}]}, "invalid IP address: 010.0.0.1"),
    ],
)
def test_invalid_bindings_are_refused_in_dockerd_words(
    bindings: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_port_bindings(bindings, None, False)
    assert caught.value.message.startswith(message)
    with pytest.raises(InvalidParameter):
        validate_port_bindings(bindings)


@pytest.mark.parametrize(
    "bindings",
    [
        ["80/tcp"],
        "80/tcp",
        {"80/tcp": {"HostPort": "80"}},
        {"80/tcp": ["8080"]},
        {"80/tcp": [{"HostPort": 8080}]},
        {"80/tcp": [{"HostPort": True}]},
        {"80/tcp": [{"HostIp": 127}]},
        {80: []},
    ],
)
def test_wrong_types_are_invalid_parameters(bindings: Any) -> None:
    with pytest.raises(InvalidParameter):
        parse_port_bindings(bindings, None, False)


def test_validate_accepts_what_parse_accepts() -> None:
    validate_port_bindings({"80/tcp": [{"HostIp": "::", "HostPort": "1-65535"}]})
    validate_port_bindings(None)
    validate_port_bindings({"80/tcp": [{"HostIp": None, "HostPort": None}]})


# -- NetworkSettings.Ports ---------------------------------------------------------------------


def test_ports_view_shape() -> None:
    bindings = [
        PortBinding("tcp", 80, "0.0.0.0", 8080),
        PortBinding("tcp", 80, "::", 8080),
        PortBinding("udp", 53, "127.0.0.1", 40000),
        PortBinding("tcp", 9000, "0.0.0.0", 9000),  # published without being exposed
    ]
    view = ports_view({"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "junk": {}}, bindings)
    assert view == {
        "443/tcp": None,
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "40000"}],
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": "8080"},
            {"HostIp": "::", "HostPort": "8080"},
        ],
        "9000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9000"}],
    }
    assert list(view) == sorted(view)  # as Go's encoder orders a map
    assert ports_view(None, []) == {}
    assert ports_view({"8080": {}}, []) == {"8080/tcp": None}


# -- the ephemeral range -----------------------------------------------------------------------


def test_ephemeral_port_range(tmp_path: Path) -> None:
    good = tmp_path / "range"
    good.write_text("32768\t60999\n")
    assert ephemeral_port_range(str(good)) == (32768, 60999)
    for text in ("", "abc def", "60999 32768", "0 10", "1 70000", "5"):
        good.write_text(text)
        assert ephemeral_port_range(str(good)) == (49153, 65535)
    assert ephemeral_port_range(str(tmp_path / "missing")) == (49153, 65535)
    low, high = PortAllocator().port_range
    assert 0 < low <= high <= 65535


# -- holding host ports (in a namespace of our own) --------------------------------------------


def _private_netns(tmp_path: Path, loopback: bool) -> Iterator[RunIn[Any]]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    path = tmp_path / "netns"
    netns.create(path)
    try:
        if loopback:
            links.bring_up_loopback(path)
        yield lambda work: netns.run_in(path, work)
    finally:
        netns.remove(path)


@pytest.fixture
def run_in(tmp_path: Path) -> Iterator[RunIn[Any]]:
    """Runs a callable inside a fresh network namespace with loopback (and ::1) up."""
    yield from _private_netns(tmp_path, loopback=True)


@pytest.fixture
def run_in_v4_only(tmp_path: Path) -> Iterator[RunIn[Any]]:
    """A fresh namespace whose loopback is down, so ::1 cannot be bound: no usable IPv6."""
    yield from _private_netns(tmp_path, loopback=False)


def _tcp(port: int) -> PortSpec:
    return PortSpec("tcp", 80, "", port, port)


def _connects(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(2)
        return client.connect_ex((address, port)) == 0


def test_all_addresses_means_v4_and_v6_on_one_port(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        bound = ports.bind("c1", [PortSpec("tcp", 80, "", 0, 0)], "web", endpoint_id="ep1")
        assert [b.host_ip for b, _ in bound] == ["0.0.0.0", "::"]
        port = bound[0][0].host_port
        assert 40000 <= port <= 40099
        assert all(b == PortBinding("tcp", 80, b.host_ip, port) for b, _ in bound)
        assert bound[0][1].getsockname() == ("0.0.0.0", port)
        assert bound[1][1].getsockname()[:2] == ("::", port)
        assert bound[1][1].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        assert _connects("127.0.0.1", port) and _connects("::1", port)  # TCP listens
        assert ports.held("c1") == [b for b, _ in bound]
        ports.release("c1")
        assert ports.held("c1") == []
        assert all(sock.fileno() == -1 for _, sock in bound)
        assert not _connects("127.0.0.1", port)
        ports.release("c1")  # releasing twice is harmless

    run_in(work)


def test_explicit_addresses_bind_only_themselves(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        bound = ports.bind(
            "c1",
            [PortSpec("udp", 53, "::", 0, 0), PortSpec("tcp", 80, "127.0.0.1", 40100, 40100)],
        )
        assert [(b.proto, b.host_ip) for b, _ in bound] == [("udp", "::"), ("tcp", "127.0.0.1")]
        assert bound[1][0].host_port == 40100
        assert bound[0][1].type == socket.SOCK_DGRAM
        ports.release("c1")

    run_in(work)


def test_without_ipv6_all_addresses_means_v4_only(run_in_v4_only: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        bound = ports.bind("c1", [PortSpec("tcp", 80, "", 40000, 40000)])
        assert [b for b, _ in bound] == [PortBinding("tcp", 80, "0.0.0.0", 40000)]
        ports.release("c1")

    run_in_v4_only(work)


def test_random_ports_stay_in_the_range_and_differ(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((41000, 41009))
        specs = [PortSpec("tcp", 80 + i, "", 0, 0) for i in range(10)]
        bound = ports.bind("c1", specs)
        numbers = {b.host_port for b, _ in bound}
        assert numbers == set(range(41000, 41010))  # every port once, v4 and v6 alike
        with pytest.raises(SystemError_) as caught:
            ports.bind("c2", [PortSpec("tcp", 80, "", 0, 0)], "web", endpoint_id="ep1")
        assert caught.value.message == PREFIX + "all ports are allocated"
        ports.release("c1")
        again = ports.bind("c2", [PortSpec("tcp", 80, "", 0, 0)])
        assert 41000 <= again[0][0].host_port <= 41009
        ports.release("c2")

    run_in(work)


def test_random_ports_skip_foreign_sockets(run_in: RunIn[None]) -> None:
    def work() -> None:
        foreign = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        foreign.bind(("127.0.0.1", 41000))
        foreign.listen()
        try:
            ports = PortAllocator((41000, 41001))
            bound = ports.bind("c1", [PortSpec("tcp", 80, "", 0, 0)])
            assert {b.host_port for b, _ in bound} == {41001}
            ports.release("c1")
        finally:
            foreign.close()

    run_in(work)


def test_a_range_takes_its_first_free_port(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        ports.bind("other", [PortSpec("tcp", 80, "127.0.0.1", 42000, 42000)])
        foreign = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        foreign.bind(("0.0.0.0", 42001))
        foreign.listen()
        try:
            bound = ports.bind("c1", [PortSpec("tcp", 80, "", 42000, 42005)])
            assert {b.host_port for b, _ in bound} == {42002}
            # UDP ports are counted apart from TCP ones
            udp = ports.bind("c2", [PortSpec("udp", 80, "", 42000, 42005)])
            assert {b.host_port for b, _ in udp} == {42000}
        finally:
            foreign.close()
            ports.release("c1")
            ports.release("c2")
            ports.release("other")

    run_in(work)


def test_a_full_range_reports_the_last_bind_error(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        foreign = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
        try:
            for port, sock in zip((42010, 42011), foreign, strict=True):
                sock.bind(("127.0.0.1", port))
                sock.listen()
            with pytest.raises(SystemError_) as caught:
                ports.bind(
                    "c1",
                    [PortSpec("tcp", 80, "", 42010, 42011)],
                    "web",
                    endpoint_id="ep1",
                    container_ips=("172.17.0.2",),
                )
            assert caught.value.message == PREFIX + (
                "failed to bind host port 42011 for 0.0.0.0:42010-42011:172.17.0.2:80/tcp: "
                "address already in use"
            )
        finally:
            for sock in foreign:
                sock.close()

    run_in(work)


def test_a_port_this_engine_holds_is_already_allocated(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        ports.bind("c1", [_tcp(8080)])
        for spec, holder in [
            (_tcp(8080), "0.0.0.0"),
            (PortSpec("tcp", 81, "127.0.0.1", 8080, 8080), "0.0.0.0"),
            (PortSpec("tcp", 81, "::1", 8080, 8080), "::"),
        ]:
            with pytest.raises(SystemError_) as caught:
                ports.bind("c2", [spec], "web", endpoint_id="ep1")
            assert caught.value.message == (
                PREFIX + f"Bind for {holder}:8080 failed: port is already allocated"
            )
        # a specific address blocks all addresses, and the same owner is no exception
        ports.bind("c2", [PortSpec("tcp", 80, "127.0.0.1", 8081, 8081)])
        with pytest.raises(SystemError_) as caught:
            ports.bind("c2", [_tcp(8081)], "web", endpoint_id="ep1")
        assert caught.value.message.endswith(
            "Bind for 127.0.0.1:8081 failed: port is already allocated"
        )
        # the same number over UDP is another port
        ports.bind("c3", [PortSpec("udp", 80, "", 8080, 8080)])
        for owner in ("c1", "c2", "c3"):
            ports.release(owner)
        ports.bind("c4", [_tcp(8080)])
        ports.release("c4")

    run_in(work)


def test_a_port_another_process_holds_is_address_in_use(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        foreign_tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        foreign_udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            foreign_tcp.bind(("127.0.0.1", 8080))
            foreign_tcp.listen()
            foreign_udp.bind(("::1", 5353))
            with pytest.raises(SystemError_) as caught:
                ports.bind(
                    "c1", [_tcp(8080)], "web", endpoint_id="ep1", container_ips=("172.17.0.2",)
                )
            assert caught.value.message == PREFIX + (
                "failed to bind host port for 0.0.0.0:8080:172.17.0.2:80/tcp: "
                "address already in use"
            )
            with pytest.raises(SystemError_) as caught:
                ports.bind(
                    "c1",
                    [PortSpec("udp", 53, "", 5353, 5353)],
                    "web",
                    endpoint_id="ep1",
                    container_ips=("172.17.0.2", "fd00::2"),
                )
            assert caught.value.message == PREFIX + (
                "failed to bind host port for [::]:5353:[fd00::2]:53/udp: address already in use"
            )
            # without the container's address, that part is left out, as libnetwork does
            with pytest.raises(SystemError_) as caught:
                ports.bind("c1", [_tcp(8080)], "web")
            assert caught.value.message.endswith(
                "on endpoint web (c1): failed to bind host port for 0.0.0.0:8080:80/tcp: "
                "address already in use"
            )
            assert ports.held("c1") == []
        finally:
            foreign_tcp.close()
            foreign_udp.close()

    run_in(work)


def test_a_failure_releases_everything_that_call_bound(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        ports.bind("c1", [PortSpec("tcp", 80, "", 9000, 9000)])
        earlier = ports.held("c1")
        specs = [
            PortSpec("tcp", 81, "", 9001, 9001),
            PortSpec("udp", 82, "", 9002, 9002),
            PortSpec("tcp", 83, "", 0, 0),
            PortSpec("tcp", 84, "", 9000, 9000),  # held by c1 already
        ]
        with pytest.raises(SystemError_):
            ports.bind("c1", specs, "web")
        assert ports.held("c1") == earlier  # what c1 held before is untouched
        # the ports of the failed call are free again, for the kernel and the allocator
        for kind, port in ((socket.SOCK_STREAM, 9001), (socket.SOCK_DGRAM, 9002)):
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.bind(("0.0.0.0", port))
        bound = ports.bind("c2", specs[:3])
        assert [b.host_port for b, _ in bound][:4] == [9001, 9001, 9002, 9002]
        ports.release("c1")
        ports.release("c2")

    run_in(work)


def test_sctp_or_a_clean_error(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        try:
            bound = ports.bind("c1", [PortSpec("sctp", 80, "127.0.0.1", 9100, 9100)], "web")
        except SystemError_ as exc:  # no SCTP in this kernel
            assert "failed to create socket for userland proxy for 127.0.0.1:9100:80/sctp" in (
                exc.message
            )
            assert ports.held("c1") == []
            return
        assert bound[0][0] == PortBinding("sctp", 80, "127.0.0.1", 9100)
        ports.release("c1")

    run_in(work)


def test_bind_errors_carry_errno_texts_in_go_spelling(run_in: RunIn[None]) -> None:
    def work() -> None:
        ports = PortAllocator((40000, 40099))
        # an address the namespace does not have
        with pytest.raises(SystemError_) as caught:
            ports.bind("c1", [PortSpec("tcp", 80, "192.0.2.1", 9200, 9200)], "web")
        assert caught.value.message.endswith(os.strerror(errno.EADDRNOTAVAIL).lower())
        assert "failed to bind host port for 192.0.2.1:9200:80/tcp: cannot assign" in (
            caught.value.message
        )

    run_in(work)
