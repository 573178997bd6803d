"""Names the embedded DNS answers for one container: every container on the same user-defined
networks, by name, alias, short ID and hostname, also as ``name.network``."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from engine.networks.endpoints import Endpoint, Sandbox
from engine.networks.model import NetworkRecord

TYPE_AAAA = 28


class ContainerResolver:
    """Answers the embedded DNS of one container from the endpoints on its networks."""

    def __init__(
        self,
        sandboxes: Mapping[str, Sandbox],
        networks: Mapping[str, NetworkRecord],
        container_id: str,
    ) -> None:
        self.sandboxes = sandboxes  # the manager's live tables, not copies
        self.networks = networks
        self.container_id = container_id

    def _peers(self) -> Iterator[tuple[NetworkRecord, Endpoint, Sandbox]]:
        own = self.sandboxes.get(self.container_id)
        if own is None:
            return
        for mine in own.endpoints:
            record = self.networks.get(mine.network_id)
            if record is None or not record.has_dns:
                continue
            for sandbox in list(self.sandboxes.values()):
                theirs = sandbox.endpoint(mine.network_id)
                if theirs is not None:
                    yield record, theirs, sandbox

    def lookup(self, name: str, qtype: int) -> list[str] | None:
        version = 6 if qtype == TYPE_AAAA else 4
        found = False
        result: list[str] = []
        for record, endpoint, _ in self._peers():
            names = [n.lower() for n in endpoint.dns_names]
            if name not in names and name not in (f"{n}.{record.name.lower()}" for n in names):
                continue
            found = True
            address = endpoint.address(version)
            if address is not None and str(address.ip) not in result:
                result.append(str(address.ip))
        return result if found else None

    def reverse(self, address: str) -> str | None:
        for record, endpoint, sandbox in self._peers():
            if any(str(ipaddress.ip_interface(a).ip) == address for a in endpoint.addresses):
                return f"{sandbox.name}.{record.name}"
        return None
