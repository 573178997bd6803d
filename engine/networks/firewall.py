"""The engine's nftables table, rebuilt whole from the networks and published ports after every
change, one change at a time. Without nftables the engine still works: published ports go
through the userland proxy and containers get no outbound NAT."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from engine.networks.nftables import BridgeRules, Nftables, PortRule, delete_table, ruleset

log = logging.getLogger(__name__)


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
