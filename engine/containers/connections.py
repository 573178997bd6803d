"""``docker network connect`` and ``disconnect``: change the networks a container is on, live
when it runs, in its record either way."""

from __future__ import annotations

from typing import Any

from engine.containers.model import ContainerRecord
from engine.containers.networking import endpoint_request, endpoints_at_create, network_mode
from engine.containers.state import is_running
from engine.containers.store import ContainerStore
from engine.errors import Forbidden, InvalidParameter, SystemError_
from engine.events.bus import EventBus
from engine.networks.sandbox import SandboxManager


class Connections:
    def __init__(self, store: ContainerStore, sandboxes: SandboxManager, events: EventBus) -> None:
        self.store = store
        self.sandboxes = sandboxes
        self.events = events

    def _check_mode(self, record: ContainerRecord, network_name: str) -> None:
        """dockerd's refusals: host and none networks are all a container has, and a
        container in another's namespace has no networks of its own."""
        mode = network_mode(record.host_config)
        if mode.startswith("container:"):
            raise Forbidden(
                "container sharing network namespace with another container or host cannot "
                "be connected to any other network"
            )
        for special in ("host", "none"):
            if special in (mode, network_name):
                raise Forbidden(
                    f"container cannot be disconnected from {special} network or connected to "
                    f"{special} network"
                )

    async def connect(self, network_ref: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidParameter("invalid JSON: Container must be a string")
        record = self.store.get(body["Container"])
        network = self.sandboxes.networks.get(network_ref)
        config = body.get("EndpointConfig")
        if network.name in record.networks:
            raise Forbidden(
                f"endpoint with name {record.bare_name} already exists in network {network.name}"
            )
        self._check_mode(record, network.name)
        host = {"NetworkMode": network.name}
        (entry,) = endpoints_at_create(
            self.sandboxes.networks, host, {"EndpointsConfig": {network.name: config}}
        ).values()
        if is_running(record.state.status):
            await self.sandboxes.connect(record.id, endpoint_request(network.name, entry))
        record.networks[network.name] = entry
        self.store.save_config(record)
        self._publish("connect", network.id, network.name, record.id)

    async def disconnect(self, network_ref: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidParameter("invalid JSON: Container must be a string")
        network = self.sandboxes.networks.get(network_ref)
        try:
            record = self.store.get(body["Container"])
        except Exception:
            if body.get("Force") and await self._forget_endpoint(body["Container"], network.id):
                return
            raise
        if network.name not in record.networks:
            raise SystemError_(f"container {record.id} is not connected to network {network.name}")
        self._check_mode(record, network.name)
        if is_running(record.state.status):
            await self.sandboxes.disconnect(record.id, network.id)
        del record.networks[network.name]
        self.store.save_config(record)
        self._publish("disconnect", network.id, network.name, record.id)

    async def _forget_endpoint(self, container_id: str, network_id: str) -> bool:
        """``disconnect --force`` for a container that is gone: drop what is left of it."""
        for sandbox in list(self.sandboxes.sandboxes.values()):
            if sandbox.container_id.startswith(container_id) or sandbox.name == container_id:
                await self.sandboxes.disconnect(sandbox.container_id, network_id)
                return True
        return False

    def _publish(self, action: str, network_id: str, name: str, container_id: str) -> None:
        attributes = {"container": container_id, "name": name, "type": "bridge"}
        self.events.publish("network", action, network_id, attributes)
