"""A running container's network: its namespace, one veth endpoint per network, its published
ports and its embedded DNS — set up before the container's process starts, torn down after it
exits, and written to ``<exec-root>/sandboxes/<id>.json`` so a restarted engine takes over."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import secrets
import socket
from pathlib import Path
from typing import Any

from engine.errors import Forbidden, InvalidParameter, NotFound
from engine.meta.atomic import write_json
from engine.meta.records import read_records
from engine.networks import ipam, links, netns
from engine.networks.dns import EmbeddedDns, create_sockets_in_netns
from engine.networks.endpoints import Endpoint, EndpointRequest, Sandbox, SandboxRequest, mac_for
from engine.networks.firewall import Firewall, bridge_rules, port_rules
from engine.networks.model import NetworkRecord
from engine.networks.ports import PortAllocator, PortBinding, PortSpec
from engine.networks.proxy import PortProxy
from engine.networks.resolver import ContainerResolver
from engine.networks.service import NetworkService

log = logging.getLogger(__name__)


class SandboxManager:
    def __init__(
        self,
        networks: NetworkService,
        root: Path,
        netns_root: Path,
        firewall: Firewall,
        ports: PortAllocator,
        dns: EmbeddedDns,
    ) -> None:
        self.networks = networks
        self.root = root
        self.netns_root = netns_root
        self.firewall = firewall
        self.ports = ports
        self.dns = dns
        self.sandboxes: dict[str, Sandbox] = {}
        self.allocators: dict[str, list[ipam.AddressAllocator]] = {}
        self.lock = asyncio.Lock()
        self._sockets: dict[str, list[socket.socket]] = {}
        self._proxies: dict[str, list[PortProxy]] = {}
        self._dns_served: set[str] = set()
        networks.endpoints = self.network_containers
        networks.on_change = self.refresh_firewall

    # -- bookkeeping -----------------------------------------------------------------------

    def _file(self, container_id: str) -> Path:
        return self.root / f"{container_id}.json"

    def _save(self, sandbox: Sandbox) -> None:
        write_json(self._file(sandbox.container_id), sandbox.to_json())

    def _allocators(self, record: NetworkRecord) -> list[ipam.AddressAllocator]:
        if record.id not in self.allocators:
            self.allocators[record.id] = [
                ipam.AddressAllocator(config) for config in record.subnet_configs()
            ]
        return self.allocators[record.id]

    def load(self) -> None:
        """Read what was set up before a restart and hold its addresses again (blocking)."""
        for sandbox in read_records(self.root, Sandbox.from_json, "sandbox"):
            self.sandboxes[sandbox.container_id] = sandbox
            for endpoint in sandbox.endpoints:
                record = self.networks.networks.get(endpoint.network_id)
                if record is None:
                    continue
                for text in endpoint.addresses:
                    address = ipaddress.ip_interface(text).ip
                    for allocator in self._allocators(record):
                        if address in allocator.config.subnet:
                            with contextlib.suppress(Exception):
                                allocator.allocate(address)

    def get(self, container_id: str) -> Sandbox | None:
        return self.sandboxes.get(container_id)

    def has_dns(self, sandbox: Sandbox) -> bool:
        return any(self._has_dns(e) for e in sandbox.endpoints)

    def host_gateway(self) -> str | None:
        """What ``host-gateway`` in ``--add-host`` stands for: the default bridge's address."""
        record = self.networks.default_bridge()
        if record is None:
            return None
        return next(
            (e["Gateway"] for e in record.ipam_config if ":" not in e.get("Gateway", ":")), None
        )

    def network_containers(self, network_id: str) -> dict[str, Any]:
        """The ``Containers`` of a network's inspect: its running containers' endpoints."""
        result = {}
        for sandbox in self.sandboxes.values():
            endpoint = sandbox.endpoint(network_id)
            if endpoint is None:
                continue
            v4, v6 = endpoint.address(4), endpoint.address(6)
            result[sandbox.container_id] = {
                "Name": sandbox.name,
                "EndpointID": endpoint.endpoint_id,
                "MacAddress": endpoint.mac,
                "IPv4Address": str(v4) if v4 else "",
                "IPv6Address": str(v6) if v6 else "",
            }
        return result

    # -- attach / detach ---------------------------------------------------------------------

    def _resolve(self, requests: list[EndpointRequest]) -> list[NetworkRecord]:
        records = [self.networks.get(r.network) for r in requests]
        for record in records:
            if record.driver != "bridge":
                raise InvalidParameter(
                    f"container cannot be connected to network {record.name} with others"
                )
        return records

    async def attach(self, request: SandboxRequest) -> Sandbox:
        """Create the namespace and every endpoint, reserve the ports, start the DNS."""
        records = self._resolve(request.endpoints)
        key = self.netns_root / request.container_id[:12]
        sandbox = Sandbox(
            request.container_id, request.name, request.hostname, str(key), dns=list(request.dns)
        )
        async with self.lock:
            try:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(netns.remove, key)  # a leftover of a crash
                await asyncio.to_thread(netns.create, key)
                if not request.endpoints:
                    await asyncio.to_thread(links.bring_up_loopback, key)
                self.sandboxes[sandbox.container_id] = sandbox
                for index, (req, record) in enumerate(zip(request.endpoints, records, strict=True)):
                    await self._add_endpoint(sandbox, record, req, primary=index == 0)
                if request.ports:
                    await self._bind_ports(sandbox, request.ports)
                await asyncio.to_thread(self._save, sandbox)
            except BaseException:
                await self._teardown(sandbox)
                raise
        await self._serve(sandbox)
        return sandbox

    async def _add_endpoint(
        self, sandbox: Sandbox, record: NetworkRecord, req: EndpointRequest, primary: bool
    ) -> Endpoint:
        if sandbox.endpoint(record.id) is not None:
            raise Forbidden(
                f"endpoint with name {sandbox.name} already exists in network {record.name}"
            )
        addresses = self._allocate(record, req)
        endpoint = Endpoint(
            network_id=record.id,
            endpoint_id=secrets.token_hex(32),
            ifname=f"eth{len(sandbox.endpoints)}",
            host_ifname=links.host_veth_name(),
            mac=req.mac or mac_for(next((a.ip for a in addresses if a.version == 4), None)),
            addresses=[str(a) for a in addresses],
            gateways=[str(a.gateway) for a in self._allocators(record)],
            aliases=list(req.aliases),
            dns_names=self._dns_names(sandbox, record, req),
        )
        sandbox.endpoints.append(endpoint)
        link = links.EndpointLink(
            bridge=record.bridge,
            host_ifname=endpoint.host_ifname,
            ifname=endpoint.ifname,
            mac=endpoint.mac,
            addresses=tuple(addresses),
            gateways=tuple(a.gateway for a in self._allocators(record)) if primary else (),
            mtu=record.mtu,
        )
        await asyncio.to_thread(links.add_endpoint, Path(sandbox.key), link)
        return endpoint

    def _dns_names(
        self, sandbox: Sandbox, record: NetworkRecord, req: EndpointRequest
    ) -> list[str]:
        if not record.has_dns:
            return []
        names = [sandbox.name, *req.aliases, sandbox.container_id[:12], sandbox.hostname]
        return list(dict.fromkeys(n for n in names if n))

    def _allocate(
        self, record: NetworkRecord, req: EndpointRequest
    ) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
        wanted = {4: req.ipv4, 6: req.ipv6}
        result: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
        allocators = self._allocators(record)
        try:
            for version, text in wanted.items():
                if text and not any(a.config.subnet.version == version for a in allocators):
                    raise InvalidParameter(
                        f"Invalid address {text}: It does not belong to any of this network's "
                        "subnets"
                    )
            for allocator in allocators:
                version = allocator.config.subnet.version
                preferred = ipaddress.ip_address(wanted[version]) if wanted[version] else None
                address = allocator.allocate(preferred)
                result.append(
                    ipaddress.ip_interface(f"{address}/{allocator.config.subnet.prefixlen}")
                )
        except BaseException:
            self._release(record, result)
            raise
        return result

    def _release(self, record: NetworkRecord | None, addresses: list[Any]) -> None:
        if record is None:
            return
        for interface in addresses:
            address = ipaddress.ip_interface(str(interface)).ip
            for allocator in self._allocators(record):
                if address in allocator.config.subnet:
                    allocator.release(address)

    async def _bind_ports(self, sandbox: Sandbox, specs: list[PortSpec]) -> None:
        primary = sandbox.endpoints[0] if sandbox.endpoints else None
        bound = await asyncio.to_thread(
            functools.partial(
                self.ports.bind,
                sandbox.container_id,
                specs,
                sandbox.name,
                endpoint_id=primary.endpoint_id if primary else "",
                container_ips=[str(ipaddress.ip_interface(a).ip) for a in primary.addresses]
                if primary
                else (),
            )
        )
        sandbox.ports = [binding for binding, _ in bound]
        self._sockets[sandbox.container_id] = [sock for _, sock in bound]

    async def _serve(self, sandbox: Sandbox) -> None:
        """The parts that live in this process: DNS listeners, port proxies, firewall rules."""
        if sandbox.ports:
            await self.refresh_firewall()
            await self._start_proxies(sandbox)
        if self.has_dns(sandbox):
            await self._serve_dns(sandbox)

    def _has_dns(self, endpoint: Endpoint) -> bool:
        record = self.networks.networks.get(endpoint.network_id)
        return record is not None and record.has_dns

    async def _start_proxies(self, sandbox: Sandbox) -> None:
        """Forward in userland what the firewall does not: every port when nftables is
        missing or the host sockets are a rootless engine's, and IPv6 host addresses of a
        container that has only IPv4."""
        sockets = self._sockets.get(sandbox.container_id, [])
        proxies = []
        for binding, sock in zip(sandbox.ports, sockets, strict=False):
            target = self._proxy_target(sandbox, binding)
            if target is None:
                continue
            proxy = PortProxy(sock, binding.proto, target)
            await proxy.start()
            proxies.append(proxy)
        self._proxies[sandbox.container_id] = proxies

    def _proxy_target(self, sandbox: Sandbox, binding: PortBinding) -> tuple[str, int] | None:
        host = ipaddress.ip_address(binding.host_ip)
        if not sandbox.endpoints:
            return None
        primary = sandbox.endpoints[0]
        same_family = primary.address(host.version)
        if self.firewall.available and same_family is not None and not self.ports.outside:
            return None
        target = same_family or primary.address(4) or primary.address(6)
        return (str(target.ip), binding.container_port) if target is not None else None

    async def detach(self, container_id: str) -> None:
        """Undo ``attach`` (the container has exited or never started)."""
        sandbox = self.sandboxes.get(container_id)
        if sandbox is None:
            return
        async with self.lock:
            await self._teardown(sandbox)
        if sandbox.ports:
            await self.refresh_firewall()

    async def _teardown(self, sandbox: Sandbox) -> None:
        container_id = sandbox.container_id
        await self.dns.detach(container_id)
        self._dns_served.discard(container_id)
        for proxy in self._proxies.pop(container_id, []):
            await proxy.close()
        self._sockets.pop(container_id, None)
        await asyncio.to_thread(self.ports.release, container_id)
        for endpoint in sandbox.endpoints:
            await self._remove_endpoint(sandbox, endpoint)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(netns.remove, Path(sandbox.key))
        self._file(container_id).unlink(missing_ok=True)
        self.sandboxes.pop(container_id, None)

    async def _remove_endpoint(self, sandbox: Sandbox, endpoint: Endpoint) -> None:
        """Unplug one endpoint and give its addresses back (the sandbox's list is the caller's)."""
        with contextlib.suppress(OSError):
            await asyncio.to_thread(
                links.remove_endpoint, Path(sandbox.key), endpoint.host_ifname, endpoint.ifname
            )
        self._release(self.networks.networks.get(endpoint.network_id), endpoint.addresses)

    # -- connect / disconnect while running ----------------------------------------------

    async def connect(self, container_id: str, req: EndpointRequest) -> Endpoint:
        sandbox = self.sandboxes.get(container_id)
        if sandbox is None:
            raise NotFound(f"container {container_id} has no network sandbox")
        (record,) = self._resolve([req])
        async with self.lock:
            try:
                endpoint = await self._add_endpoint(sandbox, record, req, primary=False)
            except BaseException:
                failed = sandbox.endpoint(record.id)
                if failed is not None and failed.endpoint_id:
                    sandbox.endpoints.remove(failed)
                    self._release(record, failed.addresses)
                raise
            await asyncio.to_thread(self._save, sandbox)
        if record.has_dns and container_id not in self._dns_served:
            await self._serve_dns(sandbox)
        return endpoint

    async def _serve_dns(self, sandbox: Sandbox) -> None:
        try:
            sockets = await asyncio.to_thread(create_sockets_in_netns, sandbox.key)
            await self.dns.attach(
                sandbox.container_id,
                sockets,
                ContainerResolver(self.sandboxes, self.networks.networks, sandbox.container_id),
                [(server, 53) for server in sandbox.dns],
            )
        except OSError as exc:
            log.warning("no embedded DNS for %s: %s", sandbox.container_id[:12], exc)
            return
        self._dns_served.add(sandbox.container_id)

    async def disconnect(self, container_id: str, network_id: str) -> None:
        sandbox = self.sandboxes.get(container_id)
        endpoint = sandbox.endpoint(network_id) if sandbox else None
        if sandbox is None or endpoint is None:
            return
        async with self.lock:
            await self._remove_endpoint(sandbox, endpoint)
            sandbox.endpoints.remove(endpoint)
            await asyncio.to_thread(self._save, sandbox)

    async def rename(self, container_id: str, old: str, new: str) -> None:
        """A running container's new name resolves on its networks, its old one no more."""
        sandbox = self.sandboxes.get(container_id)
        if sandbox is None:
            return
        async with self.lock:
            sandbox.name = new
            for endpoint in sandbox.endpoints:
                if endpoint.dns_names:
                    names = [new if n == old else n for n in endpoint.dns_names]
                    endpoint.dns_names = list(dict.fromkeys(names))
            await asyncio.to_thread(self._save, sandbox)

    # -- after a restart -----------------------------------------------------------------

    async def restore(self, container_id: str) -> None:
        """Serve a container that kept running while the engine was down: bind its ports
        again (the same host ports), DNS and proxies."""
        sandbox = self.sandboxes.get(container_id)
        if sandbox is None:
            return
        if sandbox.ports:
            specs = [
                PortSpec(b.proto, b.container_port, b.host_ip, b.host_port, b.host_port)
                for b in sandbox.ports
            ]
            try:
                await self._bind_ports(sandbox, specs)
            except Exception as exc:  # someone took the port meanwhile; NAT keeps working
                log.warning("cannot hold the ports of %s again: %s", container_id[:12], exc)
        await self._serve(sandbox)

    async def collect(self, running: set[str]) -> None:
        """Tear down what belongs to containers that are gone."""
        for container_id in list(self.sandboxes):
            if container_id not in running:
                await self.detach(container_id)

    async def refresh_firewall(self) -> None:
        bridges = self.networks.bridges()
        await self.firewall.apply(
            bridge_rules(bridges), port_rules(self.sandboxes.values(), self.networks.networks)
        )

    async def close(self) -> None:
        """Stop serving (containers keep their namespaces, addresses and NAT rules)."""
        await self.dns.close()
        self._dns_served.clear()
        for container_id in list(self._proxies):
            for proxy in self._proxies.pop(container_id):
                await proxy.close()
        for container_id in list(self._sockets):
            self.ports.release(container_id)
        self._sockets.clear()
