"""Networks: the predefined ``bridge``, ``host`` and ``none``, and user-defined bridge networks,
each a Linux bridge with a subnet from IPAM. Containers' attachments live in ``sandbox.py``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import EngineConfig
from engine.errors import Conflict, Forbidden, InvalidParameter, NotFound
from engine.events.bus import EventBus
from engine.filters import Filters, parse_timestamp
from engine.meta.atomic import write_json
from engine.meta.records import read_records
from engine.networks import ipam, links
from engine.networks.model import (
    BRIDGE,
    DEFAULT_BRIDGE,
    HOST,
    NULL,
    OPT_BRIDGE_NAME,
    OPT_DEFAULT_BRIDGE,
    OPT_HOST_BINDING,
    OPT_ICC,
    OPT_MASQUERADE,
    OPT_MTU,
    NetworkRecord,
    ipam_entry,
    network_json,
)
from engine.timefmt import parse_rfc3339, rfc3339_nano

log = logging.getLogger(__name__)

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("until", "label", "label!")
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")

# Tells which running containers have an endpoint on a network: {container ID: Containers entry}
EndpointLookup = Callable[[str], dict[str, Any]]


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter(f"invalid JSON: {what} must be an object of strings")
    return dict(value)


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParameter(f"invalid JSON: {key} must be a boolean")
    return value


class NetworkService:
    def __init__(self, config: EngineConfig, root: Path, events: EventBus) -> None:
        self.config = config
        self.root = root
        self.events = events
        self.networks: dict[str, NetworkRecord] = {}
        self.lock = asyncio.Lock()
        self.pools = [ipam.parse_address_pool(p) for p in config.default_address_pools] or list(
            ipam.DEFAULT_POOLS
        )
        # The sandbox manager tells which containers are attached; it plugs itself in here.
        self.endpoints: EndpointLookup = lambda network_id: {}
        # Called after a bridge network appears or goes, so the firewall follows.
        self.on_change: Callable[[], Any] | None = None

    # -- records -------------------------------------------------------------------------

    def _file(self, network_id: str) -> Path:
        return self.root / f"{network_id}.json"

    def _save(self, record: NetworkRecord) -> None:
        write_json(self._file(record.id), record.to_json())

    def load(self) -> None:
        """Read the records (blocking); create the predefined networks the first time."""
        for record in read_records(self.root, NetworkRecord.from_json, "network record"):
            self.networks[record.id] = record
        for name, driver in (("host", HOST), ("none", NULL)):
            if self._by_name(name) is None:
                self._add(NetworkRecord(secrets.token_hex(32), name, driver, rfc3339_nano()))

    def _add(self, record: NetworkRecord) -> None:
        self._save(record)
        self.networks[record.id] = record

    def _by_name(self, name: str) -> NetworkRecord | None:
        return next((n for n in self.networks.values() if n.name == name), None)

    def default_bridge(self) -> NetworkRecord | None:
        return self._by_name(DEFAULT_BRIDGE)

    def bridges(self) -> list[NetworkRecord]:
        return [n for n in self.networks.values() if n.driver == BRIDGE]

    def get(self, ref: str) -> NetworkRecord:
        """By full ID, then exact name, then unique ID prefix, as dockerd resolves them."""
        if ref in self.networks:
            return self.networks[ref]
        named = [n for n in self.networks.values() if n.name == ref]
        if len(named) == 1:
            return named[0]
        prefixed = [n for n in self.networks.values() if ref and n.id.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise InvalidParameter(
                f"{len(prefixed)} matches found based on ID prefix: network {ref} is ambiguous"
            )
        raise NotFound(f"network {ref} not found")

    # -- the default bridge ----------------------------------------------------------------

    def _taken_networks(self) -> list[ipam.Network]:
        """Where a new subnet must not go: the host's routes and the engine's networks."""
        return ipam.host_networks() + self._taken_engine_networks()

    def ensure_default_bridge(self) -> None:
        """The ``bridge`` network on the Linux bridge named by ``--bridge`` (blocking).

        Its subnet comes from ``--bip``, else from the bridge's existing address, else from the
        first free default pool — and stays the same over restarts once chosen.
        """
        name = self.config.bridge
        record = self._by_name(DEFAULT_BRIDGE)
        if name == "none":
            if record is not None:
                self._forget(record)
            return
        if not _BRIDGE_NAME.fullmatch(name):
            raise InvalidParameter(f"invalid bridge name {name!r}")
        interface = self._default_bridge_interface(record, name)
        subnet = interface.network
        config = ipam.SubnetConfig(subnet=subnet, gateway=interface.ip)
        options = {
            OPT_DEFAULT_BRIDGE: "true",
            OPT_ICC: "true",
            OPT_MASQUERADE: "true",
            OPT_HOST_BINDING: "0.0.0.0",
            OPT_BRIDGE_NAME: name,
            OPT_MTU: str(self.config.mtu or 1500),
        }
        if (
            record is None
            or record.bridge != name
            or record.ipam_config != [ipam_entry(config, str(interface.ip))]
        ):
            fresh = NetworkRecord(
                id=record.id if record else secrets.token_hex(32),
                name=DEFAULT_BRIDGE,
                driver=BRIDGE,
                created=record.created if record else rfc3339_nano(),
                ipam_config=[ipam_entry(config, str(interface.ip))],
                options=options,
                bridge=name,
            )
            self._add(fresh)
            record = fresh
        links.ensure_bridge(name, [interface], self.config.mtu or None)

    def _default_bridge_interface(
        self, record: NetworkRecord | None, name: str
    ) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        if self.config.bip:
            try:
                return ipaddress.ip_interface(self.config.bip)
            except ValueError:
                raise InvalidParameter(f"invalid --bip {self.config.bip!r}") from None
        existing = [a for a in links.bridge_addresses(name) or [] if a.version == 4]
        if existing:
            return existing[0]
        if record is not None and record.bridge == name and record.ipam_config:
            entry = record.ipam_config[0]
            return ipaddress.ip_interface(f"{entry['Gateway']}/{entry['Subnet'].split('/')[1]}")
        subnet = ipam.choose_subnet(self.pools, self._taken_networks())
        gateway = ipam.AddressAllocator(ipam.SubnetConfig(subnet=subnet)).gateway
        return ipaddress.ip_interface(f"{gateway}/{subnet.prefixlen}")

    # -- create ------------------------------------------------------------------------------

    def _check_create(self, body: Any) -> tuple[str, str]:
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: the request body must be an object")
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise InvalidParameter("invalid name: network name must not be empty")
        if not _VALID_NAME.fullmatch(name):
            raise InvalidParameter(
                f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        if name in ("host", "none", DEFAULT_BRIDGE):
            raise Forbidden(f"operation is not permitted on predefined {name} network ")
        if self._by_name(name) is not None:
            raise Conflict(f"network with name {name} already exists")
        driver = body.get("Driver") or BRIDGE
        if not isinstance(driver, str):
            raise InvalidParameter("invalid JSON: Driver must be a string")
        if driver in ("overlay", "ipvlan", "macvlan"):
            raise NotFound(f'plugin "{driver}" not found')
        if driver != BRIDGE:
            raise NotFound(f'plugin "{driver}" not found')
        if _bool(body, "Ingress"):
            raise Forbidden("ingress networks need swarm mode, which this engine does not run")
        return name, driver

    def _subnets(self, body: dict[str, Any]) -> list[ipam.SubnetConfig]:
        spec = body.get("IPAM") or {}
        if not isinstance(spec, dict):
            raise InvalidParameter("invalid JSON: IPAM must be an object")
        driver = spec.get("Driver") or "default"
        if driver != "default":
            raise NotFound(f'plugin "{driver}" not found')
        entries = spec.get("Config") or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidParameter("invalid JSON: IPAM.Config must be a list of objects")
        configs = [ipam.parse_subnet_config(e) for e in entries if e.get("Subnet")]
        if len(configs) != len(entries):
            raise InvalidParameter("IPAM.Config entries need a Subnet")
        taken = self._taken_engine_networks()
        for config in configs:
            if any(ipam.overlaps(config.subnet, other) for other in taken):
                raise Forbidden("Pool overlaps with other one on this address space")
            taken.append(config.subnet)
        ipv6 = _bool(body, "EnableIPv6")
        if not any(c.subnet.version == 4 for c in configs):
            subnet = ipam.choose_subnet(self.pools, ipam.host_networks() + taken)
            configs.insert(0, ipam.SubnetConfig(subnet=subnet))
        if ipv6 and not any(c.subnet.version == 6 for c in configs):
            configs.append(ipam.SubnetConfig(subnet=ipam.random_ula_subnet()))
        if not ipv6 and any(c.subnet.version == 6 for c in configs):
            raise InvalidParameter("IPv6 subnets need EnableIPv6 (--ipv6)")
        return configs

    def _taken_engine_networks(self) -> list[ipam.Network]:
        return [cfg.subnet for record in self.bridges() for cfg in record.subnet_configs()]

    def _bridge_name(self, options: dict[str, str], network_id: str) -> str:
        name = options.get(OPT_BRIDGE_NAME) or f"br-{network_id[:12]}"
        if not _BRIDGE_NAME.fullmatch(name):
            raise InvalidParameter(f"invalid bridge name {name!r}")
        if any(n.bridge == name for n in self.bridges()):
            raise Conflict(f"bridge name {name} is already used by another network")
        return name

    async def create(self, body: Any) -> NetworkRecord:
        name, driver = self._check_create(body)
        options = _strings(body.get("Options"), "Options")
        labels = _strings(body.get("Labels"), "Labels")
        mtu = options.get(OPT_MTU)
        if mtu is not None and not (mtu.isdigit() and 68 <= int(mtu) <= 65535):
            raise InvalidParameter(f"invalid MTU {mtu!r}")
        network_id = secrets.token_hex(32)
        async with self.lock:
            if self._by_name(name) is not None:  # another create won the race
                raise Conflict(f"network with name {name} already exists")
            configs = await asyncio.to_thread(self._subnets, body)
            bridge = self._bridge_name(options, network_id)
            gateways = [ipam.AddressAllocator(c).gateway for c in configs]
            record = NetworkRecord(
                id=network_id,
                name=name,
                driver=driver,
                created=rfc3339_nano(),
                ipv6=_bool(body, "EnableIPv6"),
                internal=_bool(body, "Internal"),
                attachable=_bool(body, "Attachable"),
                ipam_options=_strings((body.get("IPAM") or {}).get("Options"), "IPAM.Options"),
                ipam_config=[ipam_entry(c, str(g)) for c, g in zip(configs, gateways, strict=True)],
                options=options,
                labels=labels,
                bridge=bridge,
            )
            interfaces = [
                ipaddress.ip_interface(f"{g}/{c.subnet.prefixlen}")
                for c, g in zip(configs, gateways, strict=True)
            ]
            try:
                await asyncio.to_thread(links.ensure_bridge, bridge, interfaces, record.mtu)
                await asyncio.to_thread(self._add, record)
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(links.delete_link, bridge)
                raise
        await self._changed()
        self.events.publish("network", "create", record.id, {"name": name, "type": driver})
        return record

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    # -- remove --------------------------------------------------------------------------

    def _forget(self, record: NetworkRecord) -> None:
        self._file(record.id).unlink(missing_ok=True)
        self.networks.pop(record.id, None)

    async def remove(self, ref: str) -> None:
        record = self.get(ref)
        if record.predefined:
            raise Forbidden(f"{record.name} is a pre-defined network and cannot be removed")
        async with self.lock:
            if self.endpoints(record.id):
                raise Forbidden(
                    f"error while removing network: network {record.name} id {record.id} has "
                    "active endpoints"
                )
            await asyncio.to_thread(self._forget, record)
            await asyncio.to_thread(links.delete_link, record.bridge)
        await self._changed()
        self.events.publish(
            "network", "destroy", record.id, {"name": record.name, "type": record.driver}
        )

    async def prune(self, filters: Filters) -> list[str]:
        filters.validate(PRUNE_FILTERS)
        until = filters.get("until")
        deleted = []
        for record in list(self.networks.values()):
            if record.predefined or self.endpoints(record.id):
                continue
            if not filters.match_labels(record.labels) or not filters.match_not_labels(
                record.labels
            ):
                continue
            if until and parse_rfc3339(record.created) >= parse_timestamp(until[0]):
                continue
            with contextlib.suppress(NotFound, Forbidden):
                await self.remove(record.id)
                deleted.append(record.name)
        return deleted

    # -- list / inspect --------------------------------------------------------------------

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        filters.validate(LIST_FILTERS)
        result = []
        for record in self.networks.values():
            if self._matches(record, filters):
                result.append(network_json(record, {}))
        return result

    def _matches(self, record: NetworkRecord, filters: Filters) -> bool:
        if "driver" in filters and record.driver not in filters.get("driver"):
            return False
        if "id" in filters and not any(record.id.startswith(v) for v in filters.get("id")):
            return False
        if "name" in filters and not any(v in record.name for v in filters.get("name")):
            return False
        if "scope" in filters and "local" not in filters.get("scope"):
            return False
        if "type" in filters:
            kinds = filters.get("type")
            for kind in kinds:
                if kind not in ("custom", "builtin"):
                    raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
            if ("builtin" if record.predefined else "custom") not in kinds:
                return False
        dangling = filters.bool_value("dangling")
        if dangling is not None:
            unused = not record.predefined and not self.endpoints(record.id)
            if unused != dangling:
                return False
        return filters.match_labels(record.labels)

    def inspect(self, ref: str) -> dict[str, Any]:
        record = self.get(ref)
        return network_json(record, self.endpoints(record.id))
