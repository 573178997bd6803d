"""What the engine's networks and published ports become as nftables rules."""

from __future__ import annotations

import ipaddress

from engine.networks.endpoints import Endpoint, Sandbox
from engine.networks.firewall import bridge_rules, port_rules, table_name
from engine.networks.model import NetworkRecord
from engine.networks.ports import PortBinding


def record(network_id: str, bridge: str, subnet: str, internal: bool = False) -> NetworkRecord:
    return NetworkRecord(
        network_id,
        network_id,
        "bridge",
        "2026-01-01T00:00:00Z",
        internal=internal,
        ipam_config=[{"Subnet": subnet, "Gateway": subnet.replace("0/24", "1")}],
        options={"com.docker.network.bridge.enable_icc": "false"},
        bridge=bridge,
    )


def sandbox(network_id: str, addresses: list[str], ports: list[PortBinding]) -> Sandbox:
    endpoint = Endpoint(
        network_id, "e", "eth0", "vethx", "02:42:00:00:00:00", addresses, [], [], []
    )
    return Sandbox("c" * 64, "web", "web", "/run/netns/c", [endpoint], ports)


def test_bridges_carry_subnets_and_options() -> None:
    (rules,) = bridge_rules([record("n1", "br-1", "10.5.0.0/24", internal=True)])
    assert rules.bridge == "br-1" and rules.internal and not rules.icc
    assert rules.subnets == (ipaddress.ip_network("10.5.0.0/24"),)


def test_ports_go_to_the_first_network_address_of_the_same_family() -> None:
    networks = {"n1": record("n1", "br-1", "10.5.0.0/24")}
    bindings = [
        PortBinding("tcp", 80, "0.0.0.0", 8080),
        PortBinding("tcp", 80, "::", 8080),  # no IPv6 in the container: the proxy's
        PortBinding("udp", 53, "127.0.0.1", 5353),
    ]
    rules = port_rules([sandbox("n1", ["10.5.0.2/24"], bindings)], networks)
    assert [
        (r.proto, r.host_ip, r.host_port, str(r.container_ip), r.container_port) for r in rules
    ] == [
        ("tcp", None, 8080, "10.5.0.2", 80),
        ("udp", ipaddress.ip_address("127.0.0.1"), 5353, "10.5.0.2", 53),
    ]
    assert all(r.bridge == "br-1" for r in rules)


def test_a_sandbox_on_a_removed_network_has_no_rules() -> None:
    bindings = [PortBinding("tcp", 80, "0.0.0.0", 8080)]
    assert port_rules([sandbox("gone", ["10.5.0.2/24"], bindings)], {}) == []


def test_tables_are_named_after_the_bridge() -> None:
    assert table_name("doca0") == "doca"
    assert table_name("dt-1a2b") == "doca_dt_1a2b"
