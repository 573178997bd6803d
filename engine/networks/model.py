"""A network's record (``<data-root>/networks/<id>.json``) and the JSON dockerd shows for it."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.networks.ipam import SubnetConfig

BRIDGE = "bridge"
HOST = "host"
NULL = "null"

DEFAULT_BRIDGE = "bridge"  # the network's name; its Linux bridge is doca0 unless --bridge says
PREDEFINED = ("bridge", "host", "none")

OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
OPT_MTU = "com.docker.network.driver.mtu"


@dataclass
class NetworkRecord:
    id: str
    name: str
    driver: str
    created: str
    ipv6: bool = False
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    config_only: bool = False
    config_from: str = ""
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = field(default_factory=dict)
    # IPAM.Config as given or chosen: Subnet, IPRange, Gateway, AuxiliaryAddresses
    ipam_config: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    bridge: str = ""  # Linux bridge of a bridge network

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def is_default_bridge(self) -> bool:
        return self.options.get(OPT_DEFAULT_BRIDGE) == "true"

    @property
    def has_dns(self) -> bool:
        """dockerd's embedded DNS serves user-defined networks only."""
        return self.driver == BRIDGE and not self.is_default_bridge

    @property
    def icc(self) -> bool:
        return self.options.get(OPT_ICC, "true") != "false"

    @property
    def masquerade(self) -> bool:
        return not self.internal and self.options.get(OPT_MASQUERADE, "true") != "false"

    @property
    def mtu(self) -> int | None:
        text = self.options.get(OPT_MTU, "")
        return int(text) if text.isdigit() and int(text) > 0 else None

    def subnet_configs(self) -> list[SubnetConfig]:
        return [subnet_config(entry) for entry in self.ipam_config]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkRecord:
        return cls(**data)


def subnet_config(entry: dict[str, Any]) -> SubnetConfig:
    """The stored IPAM entry (always valid: it was checked at create) as a SubnetConfig."""
    gateway = entry.get("Gateway")
    ip_range = entry.get("IPRange")
    return SubnetConfig(
        subnet=ipaddress.ip_network(entry["Subnet"]),
        ip_range=ipaddress.ip_network(ip_range) if ip_range else None,
        gateway=ipaddress.ip_address(gateway) if gateway else None,
        aux_addresses={
            k: ipaddress.ip_address(v) for k, v in (entry.get("AuxiliaryAddresses") or {}).items()
        },
    )


def ipam_entry(config: SubnetConfig, gateway: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"Subnet": str(config.subnet)}
    if config.ip_range is not None:
        entry["IPRange"] = str(config.ip_range)
    entry["Gateway"] = gateway
    if config.aux_addresses:
        entry["AuxiliaryAddresses"] = {k: str(v) for k, v in config.aux_addresses.items()}
    return entry


def network_json(record: NetworkRecord, containers: dict[str, Any] | None) -> dict[str, Any]:
    """``GET /networks/{id}`` (``containers`` given) or one entry of ``GET /networks``."""
    has_ipv4 = record.driver == BRIDGE
    return {
        "Name": record.name,
        "Id": record.id,
        "Created": record.created,
        "Scope": "local",
        "Driver": record.driver,
        "EnableIPv4": has_ipv4,
        "EnableIPv6": record.ipv6,
        "IPAM": {
            "Driver": record.ipam_driver,
            "Options": dict(record.ipam_options) if record.ipam_options or has_ipv4 else None,
            "Config": [dict(entry) for entry in record.ipam_config],
        },
        "Internal": record.internal,
        "Attachable": record.attachable,
        "Ingress": record.ingress,
        "ConfigFrom": {"Network": record.config_from},
        "ConfigOnly": record.config_only,
        "Containers": containers if containers is not None else {},
        "Options": dict(record.options),
        "Labels": dict(record.labels),
    }
