"""The daemon: builds the stores and services, reconciles them with the disk, serves the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import ssl
import time
import uuid
from pathlib import Path

from aiohttp import web

from engine import __version__
from engine.api.app import make_app
from engine.api.context import ApiContext
from engine.build.cache import BuildCache
from engine.config import EngineConfig, reload_config
from engine.connection_limits import protocol_options
from engine.containers.host import HostSetup, detect_host
from engine.containers.lifecycle import Lifecycle
from engine.containers.service import ContainerService
from engine.containers.state import is_running
from engine.containers.store import ContainerStore
from engine.content.store import ContentStore
from engine.errors import EngineError, InvalidParameter
from engine.events.bus import EventBus
from engine.images.distribution_map import DistributionMap
from engine.images.layer_downloads import Downloads
from engine.images.service import ImageService
from engine.images.store import ImageStore
from engine.listeners import Address, Listeners, check_hosts
from engine.networks.dns import EmbeddedDns
from engine.networks.dnsforward import host_upstreams
from engine.networks.firewall import Firewall, table_name
from engine.networks.nftables import Nftables
from engine.networks.ports import PortAllocator
from engine.networks.sandbox import SandboxManager
from engine.networks.service import NetworkService
from engine.paths import Paths
from engine.snapshots.store import SnapshotStore
from engine.tls import server_ssl_context
from engine.volumes.service import VolumeService

log = logging.getLogger("doca.engine")

SHUTDOWN_TIMEOUT = 3.0
HOST_RESOLV_CONF = "/etc/resolv.conf"


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def acquire(self) -> None:
        try:
            other = int(self.path.read_text().strip() or "0")
        except (FileNotFoundError, ValueError):
            other = 0
        if other and other != os.getpid() and Path(f"/proc/{other}").exists():
            raise InvalidParameter(
                f"pid file found, ensure doca-engine is not running or delete {self.path}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(self.path.read_text().strip()) == os.getpid():
                self.path.unlink()


def _engine_id(paths: Paths) -> str:
    try:
        return paths.engine_id_file.read_text().strip()
    except FileNotFoundError:
        engine_id = str(uuid.uuid4())
        paths.engine_id_file.write_text(engine_id + "\n")
        return engine_id


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.paths = config.paths
        self.events = EventBus()
        self.content = ContentStore(self.paths.blobs, self.paths.ingest)
        self.snapshots = SnapshotStore(self.paths.snapshots)
        self.image_store = ImageStore(
            self.paths.images, self.paths.references, self.content, self.snapshots
        )
        self.images = ImageService(self.image_store, self.events)
        self.container_store = ContainerStore(self.paths.containers)
        self.volumes = VolumeService(self.paths.volumes, self.events)
        self.networks = NetworkService(config, self.paths.networks, self.events)
        self.containers: ContainerService | None = None
        self._addresses: list[Address] = []
        self._ssl: ssl.SSLContext | None = None
        self._runner: web.AppRunner | None = None
        self._listeners: Listeners | None = None
        self._stopping = asyncio.Event()

    def recover(self) -> None:
        """Bring the stores back to a consistent state after any crash, before serving."""
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

    def _check_hosts(self) -> None:
        """Refuse addresses the engine will not listen on, and TLS material it cannot use,
        before it touches anything (data root, bridge, sockets)."""
        self._addresses = check_hosts(self.config)
        if self.config.tls_enabled and any(a.scheme != "unix" for a in self._addresses):
            self._ssl = server_ssl_context(self.config)

    async def _listen(self, app: web.Application) -> None:
        # Streams that never end by themselves (events, logs -f, attach) must not hold a
        # shutdown for aiohttp's default minute: containers keep running under conmon anyway.
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            **protocol_options(self.config),
        )
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        self._listeners = Listeners(runner.server, self.config, self._ssl)
        for address in self._addresses:
            await self._listeners.open(address)

    def _on_hup(self) -> None:
        try:
            changed = reload_config(self.config)
        except InvalidParameter as exc:
            log.error("not reloading the configuration: %s", exc.message)
            return
        logging.getLogger().setLevel(self.config.python_log_level)
        log.info("configuration reloaded: %s", ", ".join(changed) or "nothing changed")
        self.events.publish("daemon", "reload", _engine_id(self.paths), {"name": "doca"})

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
            PortAllocator(),
            EmbeddedDns(lambda: host_upstreams(HOST_RESOLV_CONF)),
        )
        manager.load()
        return manager

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

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.events.bind(loop)
        self._check_hosts()
        await asyncio.to_thread(self.recover)
        setup = await asyncio.to_thread(detect_host, self.paths.exec_root)
        log.info("OCI runtime: %s (%s)", setup.runtime.path, setup.cgroups.note)
        sandboxes = await asyncio.to_thread(self._sandboxes)
        self.containers = containers = self._container_service(setup, sandboxes)
        await containers.lifecycle.recover()
        await sandboxes.collect({r.id for r in self.container_store if is_running(r.state.status)})
        await sandboxes.refresh_firewall()
        await containers.start_on_boot()
        await containers.remove_build_leftovers()
        distribution = DistributionMap(self.paths.distribution / "layers.json")
        await asyncio.to_thread(distribution.load)
        ctx = ApiContext(
            config=self.config,
            paths=self.paths,
            events=self.events,
            images=self.images,
            containers=containers,
            volumes=self.volumes,
            networks=self.networks,
            downloads=Downloads(self.paths.distribution / "downloads"),
            distribution=distribution,
            build_cache=BuildCache(self.paths.builder),
            engine_id=_engine_id(self.paths),
            started_at=time.time(),
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        try:
            await self._listen(make_app(ctx))
            log.info("doca-engine %s ready (data root %s)", __version__, self.paths.data_root)
            await self._stopping.wait()
            log.info("shutting down")
        finally:
            await containers.health.close()
            await containers.execs.close()
            await containers.lifecycle.close()
            await sandboxes.close()
            if not sandboxes.sandboxes:
                # Nothing runs that needs the NAT rules; a start builds them again.
                with contextlib.suppress(Exception):
                    await sandboxes.firewall.remove()
            self.events.close()
            if self._listeners is not None:
                self._listeners.close()
            if self._runner is not None:
                await self._runner.cleanup()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
