"""The engine's nftables table, rebuilt whole from the networks and published ports after every
change, one change at a time. Without nftables the engine still works: published ports go
through the userland proxy and containers get no outbound NAT."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping, Sequence

from engine.networks.endpoints import Sandbox
from engine.networks.model import NetworkRecord
from engine.networks.nftables import BridgeRules, Nftables, PortRule, delete_table, ruleset

log = logging.getLogger(__name__)


def bridge_rules(records: Iterable[NetworkRecord]) -> list[BridgeRules]:
    return [
        BridgeRules(
            bridge=record.bridge,
            subnets=tuple(c.subnet for c in record.subnet_configs()),
            internal=record.internal,
            icc=record.icc,
        )
        for record in records
    ]


def port_rules(
    sandboxes: Iterable[Sandbox], networks: Mapping[str, NetworkRecord]
) -> list[PortRule]:
    """DNAT for every published port, to the container's address on its first network; ports
    whose host address has no counterpart there are left to the userland proxy."""
    rules = []
    for sandbox in sandboxes:
        primary = sandbox.endpoints[0] if sandbox.endpoints else None
        record = networks.get(primary.network_id) if primary else None
        if primary is None or record is None:
            continue
        for binding in sandbox.ports:
            host = ipaddress.ip_address(binding.host_ip)
            target = primary.address(host.version)
            if target is None:
                continue
            rules.append(
                PortRule(
                    proto=binding.proto,
                    host_ip=None if host.is_unspecified else host,
                    host_port=binding.host_port,
                    container_ip=target.ip,
                    container_port=binding.container_port,
                    bridge=record.bridge,
                )
            )
    return rules


def table_name(bridge: str) -> str:
    """One table per engine, named after its default bridge, so engines side by side never
    touch each other's rules."""
    if bridge == "doca0":
        return "doca"
    return "doca_" + re.sub(r"[^A-Za-z0-9_]", "_", bridge)


class Firewall:
    def __init__(self, nft: Nftables | None, table: str) -> None:
        self.nft = nft
        self.table = table
        self._lock = asyncio.Lock()
        self._applied: dict[str, object] | None = None

    @property
    def available(self) -> bool:
        return self.nft is not None

    async def apply(self, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]) -> None:
        if self.nft is None:
            return
        batch = ruleset(self.table, bridges, ports)
        async with self._lock:
            if batch == self._applied:
                return
            await asyncio.to_thread(self.nft.apply, batch)
            self._applied = batch

    async def remove(self) -> None:
        if self.nft is None:
            return
        async with self._lock:
            await asyncio.to_thread(self.nft.apply, delete_table(self.table))
            self._applied = None
