"""Where containers meet networks: the endpoints a create asks for, the sandbox a start sets up,
and the ``NetworkSettings`` dockerd shows for them."""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.containers.model import ContainerRecord
from engine.errors import InvalidParameter, NotFound
from engine.networks.endpoints import Endpoint, EndpointRequest, Sandbox, SandboxRequest
from engine.networks.model import BRIDGE, DEFAULT_BRIDGE, NetworkRecord
from engine.networks.ports import parse_port_bindings, ports_view
from engine.networks.service import NetworkService

_EMPTY_ENDPOINT = {
    "IPAMConfig": None,
    "Links": None,
    "Aliases": None,
    "MacAddress": "",
    "DriverOpts": None,
    "NetworkID": "",
    "EndpointID": "",
    "Gateway": "",
    "IPAddress": "",
    "IPPrefixLen": 0,
    "IPv6Gateway": "",
    "GlobalIPv6Address": "",
    "GlobalIPv6PrefixLen": 0,
    "DNSNames": None,
}


def network_mode(host_config: dict[str, Any]) -> str:
    mode = host_config.get("NetworkMode") or "default"
    return DEFAULT_BRIDGE if mode == "default" else mode


def uses_sandbox(host_config: dict[str, Any]) -> bool:
    """Whether the container gets a namespace with endpoints (not host, none, container:)."""
    mode = network_mode(host_config)
    return mode not in ("host", "none") and not mode.startswith("container:")


def _endpoint_config(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"invalid JSON: EndpointsConfig.{name} must be an object")
    return value


def _check_addresses(record: NetworkRecord, config: dict[str, Any]) -> None:
    ipam = config.get("IPAMConfig") or {}
    if not isinstance(ipam, dict):
        raise InvalidParameter("invalid JSON: IPAMConfig must be an object")
    for key in ("IPv4Address", "IPv6Address"):
        text = ipam.get(key) or ""
        if not text:
            continue
        if not isinstance(text, str):
            raise InvalidParameter(f"invalid JSON: {key} must be a string")
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise InvalidParameter(f"invalid {key}: {text!r} is not an IP address") from None
        if record.is_default_bridge or record.driver != BRIDGE:
            raise InvalidParameter(
                "user specified IP address is supported on user defined networks only"
            )


def endpoints_at_create(
    networks: NetworkService, host_config: dict[str, Any], networking_config: Any
) -> dict[str, Any]:
    """``record.networks`` of a new container: one entry per network it will join, keyed by
    the network's name, as dockerd keeps ``NetworkSettings.Networks``."""
    if networking_config is None:
        networking_config = {}
    if not isinstance(networking_config, dict):
        raise InvalidParameter("invalid JSON: NetworkingConfig must be an object")
    requested = networking_config.get("EndpointsConfig") or {}
    if not isinstance(requested, dict):
        raise InvalidParameter("invalid JSON: EndpointsConfig must be an object")
    parse_port_bindings(
        host_config.get("PortBindings"), None, bool(host_config.get("PublishAllPorts"))
    )
    # The docker CLI names the default network "default" in EndpointsConfig too.
    requested = {DEFAULT_BRIDGE if k == "default" else k: v for k, v in requested.items()}
    mode = network_mode(host_config)
    if mode.startswith("container:"):
        if any(name != mode for name in requested):
            raise InvalidParameter(
                "conflicting options: networking config and container network mode"
            )
        return {}
    names = [mode, *(n for n in requested if n != mode)]
    if mode in ("host", "none") and len(names) > 1:
        raise InvalidParameter(f"container cannot be connected to network {mode} and others")
    result: dict[str, Any] = {}
    for ref in names:
        if ref == DEFAULT_BRIDGE and networks.config.bridge == "none":
            continue
        config = _endpoint_config(requested.get(ref), ref)
        try:
            record = networks.get(ref)
        except NotFound:
            # As dockerd: the network is looked up again at start, which fails if it is
            # still missing (a 404 here would make the docker CLI try to pull the image).
            result[ref] = {**_EMPTY_ENDPOINT, "IPAMConfig": config.get("IPAMConfig") or None}
            continue
        _check_addresses(record, config)
        aliases = config.get("Aliases")
        if aliases is not None and (
            not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases)
        ):
            raise InvalidParameter("invalid JSON: Aliases must be a list of strings")
        if aliases and not record.has_dns:
            raise InvalidParameter(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        entry: dict[str, Any] = dict(_EMPTY_ENDPOINT)
        entry["IPAMConfig"] = config.get("IPAMConfig") or None
        entry["Aliases"] = list(aliases) if aliases else None
        entry["MacAddress"] = config.get("MacAddress") or ""
        entry["DriverOpts"] = config.get("DriverOpts") or None
        entry["NetworkID"] = record.id
        result[record.name] = entry
    return result


def endpoint_request(name: str, entry: dict[str, Any]) -> EndpointRequest:
    ipam = entry.get("IPAMConfig") or {}
    return EndpointRequest(
        network=entry.get("NetworkID") or name,
        ipv4=ipam.get("IPv4Address") or "",
        ipv6=ipam.get("IPv6Address") or "",
        aliases=list(entry.get("Aliases") or []),
        mac=entry.get("MacAddress") or "",
    )


def sandbox_request(record: ContainerRecord) -> SandboxRequest:
    host = record.host_config
    mode = network_mode(host)
    ordered = sorted(record.networks.items(), key=lambda item: item[0] != mode)
    mac = record.config.get("MacAddress") or ""
    endpoints = []
    for index, (name, entry) in enumerate(ordered):
        request = endpoint_request(name, entry)
        if index == 0 and mac and not request.mac:
            request.mac = mac
        endpoints.append(request)
    return SandboxRequest(
        container_id=record.id,
        name=record.bare_name,
        hostname=record.config.get("Hostname") or record.short_id,
        endpoints=endpoints,
        ports=parse_port_bindings(
            host.get("PortBindings"),
            record.config.get("ExposedPorts"),
            bool(host.get("PublishAllPorts")),
        ),
        dns=[d for d in host.get("Dns") or [] if isinstance(d, str)],
    )


def _live_endpoint(entry: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    v4, v6 = endpoint.address(4), endpoint.address(6)
    return {
        **entry,
        "MacAddress": endpoint.mac,
        "EndpointID": endpoint.endpoint_id,
        "Gateway": endpoint.gateway(4),
        "IPAddress": str(v4.ip) if v4 else "",
        "IPPrefixLen": v4.network.prefixlen if v4 else 0,
        "IPv6Gateway": endpoint.gateway(6),
        "GlobalIPv6Address": str(v6.ip) if v6 else "",
        "GlobalIPv6PrefixLen": v6.network.prefixlen if v6 else 0,
        "DNSNames": list(endpoint.dns_names) or None,
    }


def networks_view(record: ContainerRecord, sandbox: Sandbox | None) -> dict[str, Any]:
    result = {}
    for name, entry in record.networks.items():
        full = {**_EMPTY_ENDPOINT, **entry}
        endpoint = sandbox.endpoint(entry.get("NetworkID", "")) if sandbox else None
        result[name] = _live_endpoint(full, endpoint) if endpoint else full
    return result


def network_settings(record: ContainerRecord, sandbox: Sandbox | None) -> dict[str, Any]:
    """Inspect's ``NetworkSettings``; the top-level address fields describe the default
    bridge's endpoint, as dockerd's do."""
    networks = networks_view(record, sandbox)
    bridge = networks.get(DEFAULT_BRIDGE) or {}
    return {
        "Bridge": "",
        "SandboxID": record.id if sandbox else "",
        "SandboxKey": sandbox.key if sandbox else "",
        "Ports": ports_view(record.config.get("ExposedPorts"), sandbox.ports) if sandbox else {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": bridge.get("EndpointID", ""),
        "Gateway": bridge.get("Gateway", ""),
        "GlobalIPv6Address": bridge.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": bridge.get("GlobalIPv6PrefixLen", 0),
        "IPAddress": bridge.get("IPAddress", ""),
        "IPPrefixLen": bridge.get("IPPrefixLen", 0),
        "IPv6Gateway": bridge.get("IPv6Gateway", ""),
        "MacAddress": bridge.get("MacAddress", ""),
        "Networks": networks,
    }


def summary_ports(record: ContainerRecord, sandbox: Sandbox | None) -> list[dict[str, Any]]:
    """``Ports`` of ``GET /containers/json``: one row per binding, plus exposed-only ports."""
    rows: list[dict[str, Any]] = []
    published = set()
    for binding in sandbox.ports if sandbox else []:
        published.add((binding.container_port, binding.proto))
        rows.append(
            {
                "IP": binding.host_ip,
                "PrivatePort": binding.container_port,
                "PublicPort": binding.host_port,
                "Type": binding.proto,
            }
        )
    for key in record.config.get("ExposedPorts") or {}:
        port, _, proto = str(key).partition("/")
        if port.isdigit() and (int(port), proto or "tcp") not in published:
            rows.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return rows
