"""Tests for the engine's nftables table: the JSON it is built from, loading it into a private
network namespace, and real traffic through it between namespaces the tests create."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidParameter, SystemError_
from engine.networks import netns
from engine.networks.nftables import (
    BridgeRules,
    Nftables,
    PortRule,
    delete_table,
    ruleset,
)

ip = ipaddress.ip_address
net = ipaddress.ip_network

# -- helpers ------------------------------------------------------------------------------------


def rules(batch: dict[str, Any], chain: str) -> list[list[dict[str, Any]]]:
    return [
        cmd["add"]["rule"]["expr"]
        for cmd in batch["nftables"]
        if "rule" in cmd.get("add", {}) and cmd["add"]["rule"]["chain"] == chain
    ]


def chains(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        cmd["add"]["chain"]["name"]: cmd["add"]["chain"]
        for cmd in batch["nftables"]
        if "chain" in cmd.get("add", {})
    }


def match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def payload(protocol: str, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": field}}


FIB_LOCAL = match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
MASQUERADE = {"masquerade": None}
DROP = {"drop": None}
ACCEPT = {"accept": None}

DOCA0 = BridgeRules("doca0", (net("10.88.0.0/16"), net("fd00:88::/64")))
WEB = PortRule("tcp", None, 8080, ip("10.88.0.2"), 80, "doca0")


# -- pure: the batch ----------------------------------------------------------------------------


def test_batch_replaces_the_table_whole() -> None:
    batch = ruleset("doca", [DOCA0], [WEB])
    table = {"table": {"family": "inet", "name": "doca"}}
    assert batch["nftables"][:3] == [{"add": table}, {"delete": table}, {"add": table}]
    assert {obj["table"] for cmd in batch["nftables"][3:] for obj in cmd["add"].values()} == {
        "doca"
    }


def test_chains_hook_where_dockerd_does_and_accept_by_default() -> None:
    found = chains(ruleset("doca", [], []))
    assert {name: (c["type"], c["hook"], c["prio"]) for name, c in found.items()} == {
        "prerouting": ("nat", "prerouting", -100),
        "output": ("nat", "output", -100),
        "postrouting": ("nat", "postrouting", 100),
        "forward": ("filter", "forward", 0),
    }
    assert {c["policy"] for c in found.values()} == {"accept"}
    assert {c["family"] for c in found.values()} == {"inet"}


def test_port_on_every_host_address_is_dnated_in_prerouting_and_output() -> None:
    batch = ruleset("doca", [DOCA0], [WEB])
    expected = [
        match(meta("nfproto"), "ipv4"),
        FIB_LOCAL,
        match(payload("tcp", "dport"), 8080),
        {"dnat": {"family": "ip", "addr": "10.88.0.2", "port": 80}},
    ]
    assert rules(batch, "prerouting") == [expected]
    assert rules(batch, "output") == [expected]


@pytest.mark.parametrize("proto", ["tcp", "udp", "sctp"])
def test_port_on_one_host_address_matches_that_address(proto: str) -> None:
    port = PortRule(proto, ip("192.0.2.7"), 53, ip("10.88.0.3"), 5353, "doca0")
    assert rules(ruleset("doca", [DOCA0], [port]), "prerouting") == [
        [
            match(payload("ip", "daddr"), "192.0.2.7"),
            match(payload(proto, "dport"), 53),
            {"dnat": {"family": "ip", "addr": "10.88.0.3", "port": 5353}},
        ]
    ]


def test_ipv6_port_uses_ip6_and_leaves_host_loopback_alone() -> None:
    everywhere = PortRule("tcp", None, 8443, ip("fd00:88::2"), 443, "doca0")
    loopback = PortRule("tcp", ip("::1"), 8444, ip("fd00:88::2"), 443, "doca0")
    batch = ruleset("doca", [DOCA0], [everywhere, loopback])
    dnat = {"dnat": {"family": "ip6", "addr": "fd00:88::2", "port": 443}}
    assert rules(batch, "prerouting") == [
        [match(meta("nfproto"), "ipv6"), FIB_LOCAL, match(payload("tcp", "dport"), 8443), dnat],
        [match(payload("ip6", "daddr"), "::1"), match(payload("tcp", "dport"), 8444), dnat],
    ]
    # A packet from ::1 can never leave through the bridge: no DNAT for it from the host.
    assert rules(batch, "output") == [
        [
            match(meta("nfproto"), "ipv6"),
            FIB_LOCAL,
            match(payload("ip6", "daddr"), "::1", "!="),
            match(payload("tcp", "dport"), 8443),
            dnat,
        ]
    ]


def test_loopback_ipv4_port_is_dnated_from_the_host() -> None:
    port = PortRule("tcp", ip("127.0.0.1"), 8080, ip("10.88.0.2"), 80, "doca0")
    assert rules(ruleset("doca", [DOCA0], [port]), "output") == [
        [
            match(payload("ip", "daddr"), "127.0.0.1"),
            match(payload("tcp", "dport"), 8080),
            {"dnat": {"family": "ip", "addr": "10.88.0.2", "port": 80}},
        ]
    ]


def test_postrouting_masquerades_outbound_hairpin_and_loopback() -> None:
    v6_only = BridgeRules("br-six", (net("fd00:99::/64"),))
    internal = BridgeRules("br-int", (net("10.90.0.0/24"),), internal=True)
    got = rules(ruleset("doca", [DOCA0, v6_only, internal], []), "postrouting")
    v4 = match(payload("ip", "saddr"), {"prefix": {"addr": "10.88.0.0", "len": 16}})
    v6 = match(payload("ip6", "saddr"), {"prefix": {"addr": "fd00:88::", "len": 64}})
    six = match(payload("ip6", "saddr"), {"prefix": {"addr": "fd00:99::", "len": 64}})
    loop = match(payload("ip", "saddr"), {"prefix": {"addr": "127.0.0.0", "len": 8}})
    dnat = match({"ct": {"key": "status"}}, "dnat", "in")
    oif = meta("oifname")
    assert got == [
        [v4, match(oif, "doca0", "!="), MASQUERADE],
        [match(oif, "doca0"), v4, dnat, MASQUERADE],
        [v6, match(oif, "doca0", "!="), MASQUERADE],
        [match(oif, "doca0"), v6, dnat, MASQUERADE],
        [match(oif, "doca0"), loop, MASQUERADE],
        [six, match(oif, "br-six", "!="), MASQUERADE],
        [match(oif, "br-six"), six, dnat, MASQUERADE],
        # internal: nothing leaves, so no masquerade, but loopback DNAT still needs its reply
        [match(oif, "br-int"), loop, MASQUERADE],
    ]


def test_forward_isolates_bridges_and_drops_before_accepting() -> None:
    quiet = BridgeRules("br-quiet", (net("10.91.0.0/24"),), icc=False)
    internal = BridgeRules("br-int", (net("10.90.0.0/24"),), internal=True)
    got = rules(ruleset("doca", [DOCA0, quiet, internal], []), "forward")
    iif, oif = meta("iifname"), meta("oifname")
    established = match({"ct": {"key": "state"}}, ["established", "related"], "in")
    assert got == [
        [match(iif, "doca0"), match(oif, {"set": ["br-quiet", "br-int"]}), DROP],
        [match(iif, "br-quiet"), match(oif, {"set": ["doca0", "br-int"]}), DROP],
        [match(iif, "br-quiet"), match(oif, "br-quiet"), DROP],
        [match(iif, "br-int"), match(oif, "br-int", "!="), DROP],
        [match(oif, "br-int"), match(iif, "br-int", "!="), DROP],
        [match(iif, "br-int"), match(oif, {"set": ["doca0", "br-quiet"]}), DROP],
        [match(oif, "doca0"), established, ACCEPT],
        [match(oif, "br-quiet"), established, ACCEPT],
        [match(oif, "br-int"), established, ACCEPT],
        [match(iif, "doca0"), ACCEPT],
        [match(oif, "doca0"), ACCEPT],
        [match(iif, "br-quiet"), ACCEPT],
        [match(oif, "br-quiet"), ACCEPT],
        [match(iif, "br-int"), ACCEPT],
        [match(oif, "br-int"), ACCEPT],
    ]


def test_no_bridges_no_ports_gives_empty_chains() -> None:
    batch = ruleset("doca", [], [])
    assert all(not rules(batch, name) for name in chains(batch))


def test_delete_table_adds_first_so_an_absent_table_is_no_error() -> None:
    table = {"table": {"family": "inet", "name": "doca_x"}}
    assert delete_table("doca_x") == {"nftables": [{"add": table}, {"delete": table}]}


@pytest.mark.parametrize(
    "name",
    ["", "a" * 16, "a b", "a\tb", "a\nb", "a/b", "a:b", ".", "..", "br*", "a\\b", "@set", "a\x00"],
)
def test_bad_bridge_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter):
        ruleset("doca", [BridgeRules(name, (net("10.0.0.0/24"),))], [])
    with pytest.raises(InvalidParameter):
        ruleset("doca", [], [PortRule("tcp", None, 1, ip("10.0.0.2"), 1, name)])


def test_odd_but_legal_bridge_name_stays_a_json_value() -> None:
    name = 'x";drop'
    batch = ruleset("doca", [BridgeRules(name, (net("10.0.0.0/24"),))], [])
    assert [match(meta("iifname"), name), ACCEPT] in rules(batch, "forward")


@pytest.mark.parametrize(
    "port",
    [
        PortRule("icmp", None, 1, ip("10.0.0.2"), 1, "doca0"),
        PortRule("tcp", None, 0, ip("10.0.0.2"), 1, "doca0"),
        PortRule("tcp", None, 1, ip("10.0.0.2"), 65536, "doca0"),
        PortRule("tcp", ip("::1"), 1, ip("10.0.0.2"), 1, "doca0"),
    ],
)
def test_bad_port_rules_are_refused(port: PortRule) -> None:
    with pytest.raises(InvalidParameter):
        ruleset("doca", [DOCA0], [port])


@pytest.mark.parametrize("table", ["", "1doca", "doca-x", "doca x", "a" * 65])
def test_bad_table_names_are_refused(table: str) -> None:
    with pytest.raises(InvalidParameter):
        ruleset(table, [], [])
    with pytest.raises(InvalidParameter):
        delete_table(table)


def test_probe_without_nft_is_none() -> None:
    assert Nftables.probe("doca-no-such-nft") is None


def test_missing_binary_is_a_system_error() -> None:
    with pytest.raises(SystemError_):
        Nftables("/nonexistent/nft").apply(delete_table("doca"))


# -- loaded into a private namespace ------------------------------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(b) for b in ("nft", "nsenter", "ip")),
    reason="needs root, nft, nsenter and ip",
)


def new_namespace(path: Path) -> Path:
    netns.create(path)
    return path


@pytest.fixture
def private_nft(tmp_path: Path) -> Iterator[Nftables]:
    path = new_namespace(tmp_path / "fw")
    try:
        nft = Nftables.probe(netns=str(path))
        assert nft is not None
        yield nft
    finally:
        netns.remove(path)


def listed_rules(nft: Nftables, table: str) -> list[tuple[str, str]]:
    listing = nft.list_table(table)
    assert listing is not None
    return sorted(
        (item["rule"]["chain"], repr(item["rule"]["expr"]))
        for item in listing["nftables"]
        if "rule" in item
    )


def listed_chains(nft: Nftables, table: str) -> set[str]:
    listing = nft.list_table(table)
    assert listing is not None
    return {item["chain"]["name"] for item in listing["nftables"] if "chain" in item}


BR1 = BridgeRules("br1", (net("10.98.0.0/24"),), icc=False)
DB = PortRule("tcp", ip("127.0.0.1"), 5432, ip("10.98.0.2"), 5432, "br1")


@needs_root
def test_loads_and_reads_back(private_nft: Nftables) -> None:
    batch = ruleset("doca_test", [DOCA0, BR1], [WEB, DB])
    private_nft.apply(batch)
    assert listed_chains(private_nft, "doca_test") == set(chains(batch))
    assert len(listed_rules(private_nft, "doca_test")) == sum(
        len(rules(batch, name)) for name in chains(batch)
    )


@needs_root
def test_replacing_is_idempotent_and_leaves_no_stale_rules(private_nft: Nftables) -> None:
    first = ruleset("doca_test", [DOCA0, BR1], [WEB, DB])
    private_nft.apply(first)
    once = listed_rules(private_nft, "doca_test")
    private_nft.apply(first)
    assert listed_rules(private_nft, "doca_test") == once

    private_nft.apply(ruleset("doca_test", [DOCA0], [WEB]))
    after = listed_rules(private_nft, "doca_test")
    assert len(after) < len(once)
    assert not any("br1" in expr or "5432" in expr for _, expr in after)

    private_nft.apply(ruleset("doca_test", [], []))
    assert listed_rules(private_nft, "doca_test") == []


@needs_root
def test_a_failing_batch_changes_nothing(private_nft: Nftables) -> None:
    private_nft.apply(ruleset("doca_test", [DOCA0], [WEB]))
    before = listed_rules(private_nft, "doca_test")
    broken = ruleset("doca_test", [DOCA0, BR1], [WEB, DB])
    broken["nftables"].append(
        {"add": {"rule": {"family": "inet", "table": "doca_test", "chain": "nope", "expr": []}}}
    )
    with pytest.raises(SystemError_, match="nft failed"):
        private_nft.apply(broken)
    assert listed_rules(private_nft, "doca_test") == before


@needs_root
def test_tables_side_by_side_and_delete(private_nft: Nftables) -> None:
    private_nft.apply(delete_table("doca_gone"))  # absent: no error
    private_nft.apply(ruleset("doca_a", [DOCA0], [WEB]))
    private_nft.apply(ruleset("doca_b", [BR1], [DB]))
    assert private_nft.list_table("doca_a") is not None
    private_nft.apply(delete_table("doca_b"))
    assert private_nft.list_table("doca_b") is None
    assert private_nft.list_table("doca_a") is not None
    assert private_nft.list_table("doca_never") is None


@needs_root
def test_hostile_bridge_name_adds_no_rules(private_nft: Nftables) -> None:
    name = 'x"drop'
    batch = ruleset("doca_test", [BridgeRules(name, (net("10.0.0.0/24"),))], [])
    private_nft.apply(batch)
    listing = private_nft.list_table("doca_test")
    assert listing is not None
    loaded = [item["rule"]["expr"] for item in listing["nftables"] if "rule" in item]
    assert len(loaded) == sum(len(rules(batch, c)) for c in chains(batch))
    assert [match(meta("iifname"), name), ACCEPT] in loaded


# -- real traffic through the table -------------------------------------------------------------
#
#   C "outside" 192.0.2.2 ── uplink ── A "host" 192.0.2.1
#                                      ├─ br0 10.99.0.1/24 ── B "container" 10.99.0.2
#                                      └─ br1 10.98.0.1/24 ── D "container" 10.98.0.2


class Lab:
    def __init__(self, root: Path) -> None:
        self.host = new_namespace(root / "host")
        self.container = new_namespace(root / "container")
        self.outside = new_namespace(root / "outside")
        self.neighbour = new_namespace(root / "neighbour")
        self.nft = Nftables(netns=str(self.host))

    def run(self, ns: Path, *argv: str) -> None:
        subprocess.run(["nsenter", f"--net={ns}", *argv], check=True, timeout=10)

    def setup(self) -> None:
        for ns in (self.host, self.container, self.outside, self.neighbour):
            self.run(ns, "ip", "link", "set", "lo", "up")
        self.run(self.host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self._bridge("br0", "10.99.0.1/24", self.container, "10.99.0.2/24")
        self._bridge("br1", "10.98.0.1/24", self.neighbour, "10.98.0.2/24")
        self.run(self.host, "sysctl", "-qw", "net.ipv4.conf.br0.route_localnet=1")
        self.run(
            self.host, "ip", "link", "add", "uplink", "type", "veth",
            "peer", "name", "eth0", "netns", str(self.outside),
        )  # fmt: skip
        self.run(self.host, "ip", "addr", "add", "192.0.2.1/24", "dev", "uplink")
        self.run(self.host, "ip", "link", "set", "uplink", "up")
        # No route back to the bridges: replies reach containers only through masquerade.
        self.run(self.outside, "ip", "addr", "add", "192.0.2.2/24", "dev", "eth0")
        self.run(self.outside, "ip", "link", "set", "eth0", "up")

    def _bridge(self, bridge: str, gateway: str, ns: Path, address: str) -> None:
        veth = "v" + bridge
        self.run(self.host, "ip", "link", "add", bridge, "type", "bridge")
        self.run(self.host, "ip", "addr", "add", gateway, "dev", bridge)
        self.run(self.host, "ip", "link", "set", bridge, "up")
        self.run(
            self.host, "ip", "link", "add", veth, "type", "veth",
            "peer", "name", "eth0", "netns", str(ns),
        )  # fmt: skip
        self.run(self.host, "ip", "link", "set", veth, "master", bridge, "up")
        # As the engine does: with br_netfilter loaded, a container's packet DNAT'ed back to
        # itself is bridged, and must be allowed out of the port it came in by.
        self.run(self.host, "ip", "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
        self.run(ns, "ip", "addr", "add", address, "dev", "eth0")
        self.run(ns, "ip", "link", "set", "eth0", "up")
        self.run(ns, "ip", "route", "add", "default", "via", gateway.split("/")[0])

    def bridge_netfilter(self, on: bool) -> None:
        """Whether bridged IPv4 goes through the inet hooks (only when br_netfilter is loaded;
        the setting is per namespace)."""
        key = "net.bridge.bridge-nf-call-iptables"
        if not Path("/proc/sys/net/bridge").exists():
            if on:
                pytest.skip("br_netfilter is not loaded")
            return
        self.run(self.host, "sysctl", "-qw", f"{key}={int(on)}")

    def remove(self) -> None:
        for ns in (self.host, self.container, self.outside, self.neighbour):
            netns.remove(ns)


class EchoPeer:
    """A TCP server in a namespace that answers every connection with the address it came from."""

    def __init__(self, ns: Path, address: str, port: int) -> None:
        def listen() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen()
            return sock

        # The socket stays in the namespace it was made in, whichever thread uses it later.
        self.sock = netns.run_in(ns, listen)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="echo-peer")
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, (peer, _) = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(peer.encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def ask(ns: Path, address: str, port: int, timeout: float = 3.0) -> str:
    """Connect from ``ns`` and return what the peer says (the client address it saw)."""
    sock = netns.run_in(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    with sock:
        sock.settimeout(timeout)
        sock.connect((address, port))
        return sock.recv(64).decode()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0 or not all(shutil.which(b) for b in ("nft", "nsenter", "ip")):
        pytest.skip("needs root, nft, nsenter and ip")
    lab = Lab(tmp_path_factory.mktemp("nft-lab"))
    try:
        lab.setup()
        yield lab
    finally:
        lab.remove()


@pytest.fixture(scope="module")
def servers(lab: Lab) -> Iterator[None]:
    peers = [
        EchoPeer(lab.container, "10.99.0.2", 80),
        EchoPeer(lab.outside, "192.0.2.2", 9000),
        EchoPeer(lab.neighbour, "10.98.0.2", 80),
    ]
    try:
        yield
    finally:
        for peer in peers:
            peer.close()


BR0 = BridgeRules("br0", (net("10.99.0.0/24"),))
NEIGHBOURS = BridgeRules("br1", (net("10.98.0.0/24"),))
PUBLISHED = PortRule("tcp", None, 8080, ip("10.99.0.2"), 80, "br0")


def test_host_reaches_container_through_loopback(lab: Lab, servers: None) -> None:
    lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], [PUBLISHED]))
    # The container sees the bridge's address: loopback sources are masqueraded.
    assert ask(lab.host, "127.0.0.1", 8080) == "10.99.0.1"


def test_loopback_only_port_is_reachable_on_loopback(lab: Lab, servers: None) -> None:
    port = PortRule("tcp", ip("127.0.0.1"), 8081, ip("10.99.0.2"), 80, "br0")
    lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], [port]))
    assert ask(lab.host, "127.0.0.1", 8081) == "10.99.0.1"
    with pytest.raises(OSError):
        ask(lab.outside, "192.0.2.1", 8081, timeout=1.0)


def test_outside_reaches_published_port_on_host_address(lab: Lab, servers: None) -> None:
    lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], [PUBLISHED]))
    assert ask(lab.outside, "192.0.2.1", 8080) == "192.0.2.2"


@pytest.mark.parametrize("bridged", [False, True], ids=["routed", "br_netfilter"])
def test_container_reaches_its_own_published_port_through_the_host(
    lab: Lab, servers: None, bridged: bool
) -> None:
    lab.bridge_netfilter(bridged)
    try:
        lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], [PUBLISHED]))
        assert ask(lab.container, "192.0.2.1", 8080) == "10.99.0.1"
    finally:
        lab.bridge_netfilter(False)


def test_container_goes_out_masqueraded(lab: Lab, servers: None) -> None:
    lab.nft.apply(ruleset("doca_lab", [], []))
    with pytest.raises(OSError):  # the outside has no route back to 10.99.0.0/24
        ask(lab.container, "192.0.2.2", 9000, timeout=1.0)
    lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], []))
    assert ask(lab.container, "192.0.2.2", 9000) == "192.0.2.1"


def test_bridges_are_isolated_from_each_other(lab: Lab, servers: None) -> None:
    lab.nft.apply(ruleset("doca_lab", [BR0], []))
    # Without br1 in the table it is just another way out, masqueraded like any other.
    assert ask(lab.container, "10.98.0.2", 80) == "10.98.0.1"
    lab.nft.apply(ruleset("doca_lab", [BR0, NEIGHBOURS], []))
    with pytest.raises(OSError):
        ask(lab.container, "10.98.0.2", 80, timeout=1.0)


def test_internal_bridge_lets_nothing_out(lab: Lab, servers: None) -> None:
    internal = BridgeRules("br0", (net("10.99.0.0/24"),), internal=True)
    lab.nft.apply(ruleset("doca_lab", [internal], []))
    with pytest.raises(OSError):
        ask(lab.container, "192.0.2.2", 9000, timeout=1.0)
    # The host itself still talks to the container: that is output, not forward.
    assert ask(lab.host, "10.99.0.2", 80) == "10.99.0.1"
