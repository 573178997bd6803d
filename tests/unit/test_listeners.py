"""``-H`` addresses as dockerd reads them, and which tcp listeners the engine refuses."""

from __future__ import annotations

import re

import pytest

from engine.config import load_config
from engine.errors import InvalidParameter
from engine.listeners import Address, check_hosts, check_tcp, parse_host
from engine.paths import DEFAULT_SOCKET


@pytest.mark.parametrize(
    ("value", "tls", "expected"),
    [
        ("unix:///run/x.sock", False, Address("unix", path="/run/x.sock")),
        ("unix://", False, Address("unix", path=DEFAULT_SOCKET.removeprefix("unix://"))),
        ("/run/x.sock", False, Address("unix", path="/run/x.sock")),
        ("fd://", False, Address("fd")),
        ("fd://3", False, Address("fd", path="3")),
        ("tcp://10.0.0.1:1234", True, Address("tcp", host="10.0.0.1", port=1234)),
        ("tcp://10.0.0.1", False, Address("tcp", host="10.0.0.1", port=2375)),
        ("tcp://10.0.0.1", True, Address("tcp", host="10.0.0.1", port=2376)),
        ("tcp://", False, Address("tcp", host="localhost", port=2375)),
        ("tcp://:2380", True, Address("tcp", host="localhost", port=2380)),
        ("tcp://[::1]:2376", True, Address("tcp", host="::1", port=2376)),
        ("0.0.0.0:2376", True, Address("tcp", host="0.0.0.0", port=2376)),
        (" tcp://127.0.0.1:1 ", False, Address("tcp", host="127.0.0.1", port=1)),
    ],
)
def test_parse_host(value: str, tls: bool, expected: Address) -> None:
    assert parse_host(value, tls) == expected


def test_addresses_print_as_urls() -> None:
    assert str(Address("tcp", host="::1", port=2376)) == "tcp://[::1]:2376"
    assert str(Address("tcp", host="127.0.0.1", port=2376)) == "tcp://127.0.0.1:2376"
    assert str(Address("unix", path="/run/x.sock")) == "unix:///run/x.sock"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://10.0.0.1:80", "unsupported proto 'http'"),
        ("ssh://host", "unsupported proto 'ssh'"),
        ("tcp://10.0.0.1:2375/path", "should not contain a path element"),
        ("tcp://10.0.0.1:0", "invalid port: 0"),
        ("tcp://10.0.0.1:port", "invalid bind address"),
        ("tcp://10.0.0.1:70000", "invalid bind address"),
        ("unix://tcp://x", "invalid unix address"),
    ],
)
def test_bad_hosts(value: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        parse_host(value, False)


@pytest.mark.parametrize(
    ("host", "flags"),
    [
        ("0.0.0.0", ["--tlsverify"]),
        ("192.0.2.1", ["--tls"]),
        ("127.0.0.1", ["--insecure-tcp"]),
        ("::1", ["--insecure-tcp"]),
        ("localhost", ["--insecure-tcp"]),
        ("127.0.0.1", ["--insecure-tcp", "--tlsverify=false"]),
    ],
)
def test_tcp_allowed(host: str, flags: list[str]) -> None:
    check_tcp(Address("tcp", host=host, port=2376), load_config(flags))


@pytest.mark.parametrize(
    ("host", "flags"),
    [
        ("0.0.0.0", []),
        ("0.0.0.0", ["--insecure-tcp"]),
        ("127.0.0.1", []),
        ("0.0.0.0", ["--tls", "--tlsverify=false"]),
        ("0.0.0.0", ["--tlsverify=false", "--insecure-tcp"]),
        ("docker.example", ["--insecure-tcp"]),  # a name is not known to be loopback
    ],
)
def test_tcp_refused(host: str, flags: list[str]) -> None:
    with pytest.raises(InvalidParameter, match="without TLS client verification") as exc:
        check_tcp(Address("tcp", host=host, port=2375), load_config(flags))
    assert "root access" in exc.value.message


def test_check_hosts_reads_every_host_and_refuses_any_bad_one() -> None:
    config = load_config(["-H", "unix:///tmp/a.sock", "-H", "tcp://0.0.0.0", "--tlsverify"])
    assert check_hosts(config) == [
        Address("unix", path="/tmp/a.sock"),
        Address("tcp", host="0.0.0.0", port=2376),
    ]
    with pytest.raises(
        InvalidParameter, match=re.escape("refusing to listen on tcp://0.0.0.0:2375")
    ):
        check_hosts(load_config(["-H", "unix:///tmp/a.sock", "-H", "tcp://0.0.0.0"]))
    with pytest.raises(InvalidParameter, match="LISTEN_FDS"):
        check_hosts(load_config(["-H", "fd://"]))
