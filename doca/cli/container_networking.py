"""``--network`` and the flags that go with it, as the docker CLI turns them into
``HostConfig.NetworkMode`` and ``NetworkingConfig.EndpointsConfig`` (parseNetworkOpts)."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from typing import Any

from doca.cli import container_keyvalues as kv
from doca.cli.container_limits import parse_int
from doca.cli.run_flags import FlagError

_NOT_USER_DEFINED = ("default", "bridge", "host", "none")
_LONG_SYNTAX = re.compile(r"\w+=\w+(,\w+=\w+)*")


def _is_user_defined(network: str) -> bool:
    return network not in _NOT_USER_DEFINED and not network.startswith("container:")


def _network_attachment(text: str) -> dict[str, Any]:
    """One ``--network``: a name, or ``name=NET,alias=A,ip=…`` (opts.NetworkOpt)."""
    if not _LONG_SYNTAX.search(text):
        return {"target": text}
    found: dict[str, Any] = {"aliases": [], "link-local-ip": [], "driver-opt": {}}
    for field in next(csv.reader([text]), []):
        key, sep, value = field.lower().partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise FlagError(f"invalid field {field}")
        if key == "name":
            found["target"] = value
        elif key == "alias":
            found["aliases"].append(value)
        elif key == "link-local-ip":
            found["link-local-ip"].append(value)
        elif key in ("ip", "ip6", "mac-address"):
            found[key] = value
        elif key == "driver-opt":
            name, _, option = value.partition("=")
            found["driver-opt"][name] = option
        elif key == "gw-priority":
            found[key] = parse_int(value)
        else:
            raise FlagError(f"invalid field key {key}")
    if not found.get("target"):
        raise FlagError("network name/id is not specified")
    return found


def _endpoint(attachment: Mapping[str, Any]) -> dict[str, Any]:
    target = str(attachment.get("target", ""))
    if not target.strip():
        raise FlagError("no name set for network")
    if not _is_user_defined(target):
        if attachment.get("aliases"):
            raise FlagError("network-scoped aliases are only supported for user-defined networks")
        if attachment.get("links"):
            raise FlagError("links are only supported for user-defined networks")
    endpoint: dict[str, Any] = {}
    for key, name in (("aliases", "Aliases"), ("driver-opt", "DriverOpts"), ("links", "Links")):
        if attachment.get(key):
            endpoint[name] = attachment[key]
    ipam = {name: attachment[key] for key, name in (
        ("ip", "IPv4Address"), ("ip6", "IPv6Address"), ("link-local-ip", "LinkLocalIPs"),
    ) if attachment.get(key)}  # fmt: skip
    if ipam:
        endpoint["IPAMConfig"] = ipam
    if attachment.get("mac-address"):
        try:
            endpoint["MacAddress"] = kv.validate_mac(attachment["mac-address"])
        except ValueError as error:
            raise FlagError(str(error)) from None
    if attachment.get("gw-priority"):
        endpoint["GwPriority"] = attachment["gw-priority"]
    return endpoint


def _with_flags(attachment: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The first network takes ``--network-alias``, ``--link``, ``--ip``, ``--ip6``,
    ``--mac-address`` and ``--link-local-ip`` (applyContainerOptions)."""
    for key, dest, what in (
        ("aliases", "network_alias", "--network-alias and per-network alias"),
        ("links", "link", "--link and per-network links"),
        ("ip", "ip", "--ip and per-network IPv4 address"),
        ("ip6", "ip6", "--ip6 and per-network IPv6 address"),
        ("mac-address", "mac_address", "--mac-address and per-network MAC address"),
        ("link-local-ip", "link_local_ip",
         "--link-local-ip and per-network link-local IP addresses"),
    ):  # fmt: skip
        given = values.get(dest)
        if not given:
            continue
        if attachment.get(key):
            raise FlagError(f"conflicting options: cannot specify both {what}")
        if key != "links" or _is_user_defined(str(attachment.get("target"))):
            attachment[key] = list(given) if isinstance(given, tuple) else given
    return attachment


def networking(values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``HostConfig.NetworkMode`` and ``NetworkingConfig.EndpointsConfig`` (parseNetworkOpts)."""
    attachments = [_network_attachment(text) for text in values.get("network") or ()]
    if not attachments:
        return "default", {"default": _endpoint(_with_flags({"target": "default"}, values))}
    endpoints: dict[str, Any] = {}
    kinds = set()
    for index, attachment in enumerate(attachments):
        target = str(attachment["target"])
        kinds.add(_is_user_defined(target))
        if index == 0:
            _with_flags(attachment, values)
        endpoint = _endpoint(attachment)
        if target in endpoints:
            raise FlagError(f'network "{target}" is specified multiple times')
        if index == 0 and len(attachments) == 1 and not endpoint:
            continue
        endpoints[target] = endpoint
    if len(kinds) > 1:
        raise FlagError(
            "conflicting options: cannot attach both user-defined and non-user-defined "
            "network-modes"
        )
    return str(attachments[0]["target"]), endpoints
