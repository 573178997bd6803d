"""The names one container's embedded DNS answers: peers on its user-defined networks only."""

from __future__ import annotations

from engine.networks.endpoints import Endpoint, Sandbox, mac_for
from engine.networks.model import OPT_DEFAULT_BRIDGE, NetworkRecord
from engine.networks.resolver import ContainerResolver

A, AAAA = 1, 28


def network(network_id: str, name: str, default: bool = False) -> NetworkRecord:
    options = {OPT_DEFAULT_BRIDGE: "true"} if default else {}
    return NetworkRecord(network_id, name, "bridge", "2026-01-01T00:00:00Z", options=options)


def endpoint(network_id: str, addresses: list[str], names: list[str]) -> Endpoint:
    return Endpoint(
        network_id=network_id,
        endpoint_id="e" * 64,
        ifname="eth0",
        host_ifname="veth0000000",
        mac="02:42:00:00:00:00",
        addresses=addresses,
        gateways=[],
        aliases=[],
        dns_names=names,
    )


def sandbox(container_id: str, name: str, *endpoints: Endpoint) -> Sandbox:
    return Sandbox(container_id, name, name, f"/run/netns/{container_id}", list(endpoints))


NETWORKS = {
    "n-app": network("n-app", "app"),
    "n-other": network("n-other", "other"),
    "n-bridge": network("n-bridge", "bridge", default=True),
}
SANDBOXES = {
    "c-web": sandbox(
        "c-web",
        "web",
        endpoint("n-app", ["10.1.0.2/24", "fd00::2/64"], ["web", "www", "c-web"]),
        endpoint("n-bridge", ["172.17.0.2/16"], []),
    ),
    "c-client": sandbox("c-client", "client", endpoint("n-app", ["10.1.0.3/24"], ["client"])),
    "c-stranger": sandbox(
        "c-stranger", "stranger", endpoint("n-other", ["10.2.0.2/24"], ["stranger"])
    ),
    "c-plain": sandbox("c-plain", "plain", endpoint("n-bridge", ["172.17.0.3/16"], [])),
}


def resolver(container_id: str) -> ContainerResolver:
    return ContainerResolver(SANDBOXES, NETWORKS, container_id)


def test_peers_resolve_by_name_alias_and_network_qualified_name() -> None:
    client = resolver("c-client")
    assert client.lookup("web", A) == ["10.1.0.2"]
    assert client.lookup("www", A) == ["10.1.0.2"]
    assert client.lookup("web.app", A) == ["10.1.0.2"]
    assert client.lookup("web", AAAA) == ["fd00::2"]
    assert client.lookup("client", AAAA) == []  # ours, no IPv6: NOERROR without data


def test_names_on_other_networks_and_unknown_names_are_forwarded() -> None:
    client = resolver("c-client")
    assert client.lookup("stranger", A) is None
    assert client.lookup("example.org", A) is None


def test_the_default_bridge_has_no_names() -> None:
    assert resolver("c-plain").lookup("web", A) is None
    assert resolver("c-plain").reverse("172.17.0.2") is None


def test_reverse_lookup_names_the_container_and_network() -> None:
    assert resolver("c-client").reverse("10.1.0.2") == "web.app"
    assert resolver("c-client").reverse("fd00::2") == "web.app"
    assert resolver("c-client").reverse("10.2.0.2") is None


def test_a_gone_container_answers_nothing() -> None:
    assert resolver("c-gone").lookup("web", A) is None


def test_mac_addresses_follow_dockerd() -> None:
    import ipaddress

    assert mac_for(ipaddress.IPv4Address("172.18.0.2")) == "02:42:ac:12:00:02"
    random_mac = mac_for(None)
    assert random_mac.startswith("02:42:") and len(random_mac) == 17
