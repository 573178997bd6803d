"""The engine's stores and services, reconciled with the disk, the host's network and the
containers that ran on under conmon while the engine was down.

The daemon imports this module, and with it nearly every service module, only once its API
socket listens: ``/_ping`` answers while this is built. ``prepare`` blocks (run it in a thread);
``restore`` runs on the event loop; the API serves other requests only after both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil

from engine.build.cache import BuildCache
from engine.config import EngineConfig
from engine.containers.host import HostSetup, detect_host
from engine.containers.lifecycle import Lifecycle
from engine.containers.service import ContainerService
from engine.containers.state import is_running
from engine.containers.store import ContainerStore
from engine.content.store import ContentStore
from engine.errors import EngineError, Unavailable
from engine.events.bus import EventBus
from engine.images.distribution_map import DistributionMap
from engine.images.layer_downloads import Downloads
from engine.images.service import ImageService
from engine.images.store import ImageStore
from engine.networks.dns import EmbeddedDns
from engine.networks.dnsforward import host_upstreams
from engine.networks.firewall import Firewall, table_name
from engine.networks.nftables import Nftables
from engine.networks.ports import PortAllocator, SocketOpener
from engine.networks.sandbox import SandboxManager
from engine.networks.service import NetworkService
from engine.rootless.delegation import adopt, find_delegation
from engine.rootless.limits import DELEGATED_RUNTIME_OPTIONS, RUNTIME_OPTIONS
from engine.rootless.port_driver import PortDriverClient
from engine.runtime.mounts import (
    FUSE_OVERLAYFS,
    fuse_overlayfs_program,
    overlay_mountable,
    use_fuse_overlayfs,
)
from engine.snapshots.store import SnapshotStore
from engine.volumes.service import VolumeService

log = logging.getLogger("doca.engine")

HOST_RESOLV_CONF = "/etc/resolv.conf"


def _rootless_setup(setup: HostSetup) -> HostSetup:
    """A rootless engine's containers get cgroups in the subtree delegated to its user, if
    there is one; otherwise none, which only crun can do."""
    if setup.runtime.name != "crun":
        raise Unavailable("rootless mode needs crun: install it (apt-get install crun)")
    delegation = find_delegation()
    controllers: frozenset[str] = frozenset()
    if delegation is not None:
        try:
            controllers = adopt(delegation)
        except OSError as exc:
            log.warning("cannot use the delegated cgroup %s: %s", delegation.path, exc)
    if delegation is None or not controllers:
        log.info("rootless without cgroups: resource limits are discarded")
        return dataclasses.replace(
            setup,
            runtime=dataclasses.replace(setup.runtime, options=RUNTIME_OPTIONS),
            cgroups=dataclasses.replace(setup.cgroups, controllers=frozenset()),
        )
    log.info("delegated cgroup %s: %s", delegation.path, " ".join(sorted(controllers)))
    return dataclasses.replace(
        setup,
        runtime=dataclasses.replace(setup.runtime, options=DELEGATED_RUNTIME_OPTIONS),
        cgroups=dataclasses.replace(setup.cgroups, parent=delegation.path, controllers=controllers),
    )


class Services:
    """Every store and service of one engine; ``containers`` and ``sandboxes`` exist once
    ``prepare`` has run."""

    def __init__(self, config: EngineConfig, events: EventBus) -> None:
        self.config = config
        self.paths = paths = config.paths
        self.events = events
        self.content = ContentStore(paths.blobs, paths.ingest)
        self.snapshots = SnapshotStore(paths.snapshots)
        self.image_store = ImageStore(paths.images, paths.references, self.content, self.snapshots)
        self.images = ImageService(self.image_store, events)
        self.container_store = ContainerStore(paths.containers)
        self.volumes = VolumeService(paths.volumes, events)
        self.networks = NetworkService(config, paths.networks, events)
        self.downloads = Downloads(paths.distribution / "downloads")
        self.distribution = DistributionMap(paths.distribution / "layers.json")
        self.build_cache = BuildCache(paths.builder)
        self.sandboxes: SandboxManager | None = None
        self.containers: ContainerService | None = None

    def prepare(self) -> None:
        """Blocking: bring the stores back to a consistent state after any crash, set up the
        default bridge, find the OCI runtime and the firewall."""
        self.recover()
        self._choose_storage()
        setup = detect_host(self.paths.exec_root)
        if self.config.rootless:
            setup = _rootless_setup(setup)
        log.info("OCI runtime: %s (%s)", setup.runtime.path, setup.cgroups.note)
        self.sandboxes = self._sandboxes()
        self.containers = self._container_service(setup, self.sandboxes)
        self.distribution.load()

    def _choose_storage(self) -> None:
        use_fuse_overlayfs(
            fuse_overlayfs_program(
                self.config.storage_driver,
                self.config.rootless,
                shutil.which(FUSE_OVERLAYFS),
                lambda: overlay_mountable(self.paths.tmp),
            )
        )

    def recover(self) -> None:
        self.paths.create()
        dropped = self.content.clean_ingest() + self.snapshots.clean()
        for leftover in self.paths.tmp.iterdir():  # uploads a crash left half-received
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        self.image_store.load()
        self.container_store.load()
        self.volumes.load()
        self.networks.load()
        try:
            self.networks.ensure_default_bridge()
        except (OSError, EngineError) as exc:
            # Containers can still run with --network host or none.
            log.error("no default bridge network %s: %s", self.config.bridge, exc)
        freed = self.images.collect_garbage()
        if dropped or freed:
            log.info("recovered: removed %d partial objects, %d bytes unused", dropped, freed)

    async def restore(self) -> None:
        """Watch the containers that still run, record the exits that happened meanwhile, and
        start those whose restart policy says so (after ``prepare``)."""
        assert self.containers is not None and self.sandboxes is not None
        await self.containers.lifecycle.recover()
        running = {r.id for r in self.container_store if is_running(r.state.status)}
        await self.sandboxes.collect(running)
        await self.sandboxes.refresh_firewall()
        await self.containers.start_on_boot()
        await self.containers.remove_build_leftovers()

    async def close(self) -> None:
        """Stop watching and serving (containers keep running under conmon)."""
        if self.containers is not None:
            if self.config.rootless:
                # A rootless engine starts again in new namespaces, from which the old
                # ones' containers are out of reach: they stop with it, as rootless
                # Docker's do.
                await self.containers.stop_all()
            await self.containers.health.close()
            await self.containers.execs.close()
            await self.containers.lifecycle.close()
        sandboxes = self.sandboxes
        if sandboxes is not None:
            await sandboxes.close()
            if not sandboxes.sandboxes:
                # Nothing runs that needs the NAT rules; a start builds them again.
                with contextlib.suppress(Exception):
                    await sandboxes.firewall.remove()

    def _chain_of(self, image_id: str) -> str | None:
        record = self.image_store.images.get(image_id)
        return record.chain_id if record else None

    def _sandboxes(self) -> SandboxManager:
        nft = Nftables.probe()
        if nft is None:
            log.warning(
                "nftables is not usable: published ports go through the userland proxy "
                "and containers get no outbound NAT"
            )
        manager = SandboxManager(
            self.networks,
            self.paths.sandboxes,
            self.paths.netns,
            Firewall(nft, table_name(self.config.bridge)),
            PortAllocator(opener=self._host_sockets()),
            EmbeddedDns(lambda: host_upstreams(HOST_RESOLV_CONF)),
        )
        manager.load()
        return manager

    def _host_sockets(self) -> SocketOpener | None:
        """A rootless engine's host sockets come from its outer process, in the host's network
        namespace; a root engine opens its own."""
        if not self.config.rootless:
            return None
        client = PortDriverClient.from_environment()
        if client is None:
            log.warning("no port driver: published ports are reachable only inside the engine")
            return None
        return client.open

    def _container_service(self, setup: HostSetup, sandboxes: SandboxManager) -> ContainerService:
        lifecycle = Lifecycle(
            self.container_store,
            self.snapshots,
            setup,
            self.events,
            self.paths.data_root,
            self.paths.exec_root,
            self._chain_of,
            self.volumes,
            sandboxes,
        )
        return ContainerService(self.container_store, lifecycle, self.images, self.events)
