"""What the engine records about a container's network while it runs: its namespace, its
endpoints (one veth and addresses per network) and the host ports it holds."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.networks.ports import PortBinding, PortSpec


@dataclass
class EndpointRequest:
    """What a container asks of one network (its EndpointsConfig entry)."""

    network: str  # name or ID
    ipv4: str = ""
    ipv6: str = ""
    aliases: list[str] = field(default_factory=list)
    mac: str = ""


@dataclass
class SandboxRequest:
    container_id: str
    name: str
    hostname: str
    endpoints: list[EndpointRequest]  # the first is the one with the default route
    ports: list[PortSpec] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)  # --dns: where the embedded DNS forwards


@dataclass
class Endpoint:
    network_id: str
    endpoint_id: str
    ifname: str
    host_ifname: str
    mac: str
    addresses: list[str]  # interfaces, "172.18.0.2/16"
    gateways: list[str]
    aliases: list[str]
    dns_names: list[str]

    def address(self, version: int) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
        for text in self.addresses:
            interface = ipaddress.ip_interface(text)
            if interface.version == version:
                return interface
        return None

    def gateway(self, version: int) -> str:
        return next((g for g in self.gateways if ipaddress.ip_address(g).version == version), "")


@dataclass
class Sandbox:
    container_id: str
    name: str
    hostname: str
    key: str  # the pinned namespace
    endpoints: list[Endpoint] = field(default_factory=list)
    ports: list[PortBinding] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)

    def endpoint(self, network_id: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.network_id == network_id), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sandbox:
        data = dict(data)
        data["endpoints"] = [Endpoint(**e) for e in data.get("endpoints", [])]
        data["ports"] = [PortBinding(**p) for p in data.get("ports", [])]
        return cls(**data)

    def primary_address(self) -> str | None:
        for endpoint in self.endpoints:
            found = endpoint.address(4) or endpoint.address(6)
            if found is not None:
                return str(found.ip)
        return None


def mac_for(address: ipaddress.IPv4Address | None) -> str:
    """dockerd's MAC for an IPv4 endpoint, 02:42 and the address; random otherwise."""
    raw = b"\x02\x42" + (address.packed if address is not None else secrets.token_bytes(4))
    return ":".join(f"{b:02x}" for b in raw)
