"""The daemon: listens first, then builds the stores and services, reconciles them with the
disk and opens the API to every request.

Clients ask ``/_ping`` first (the docker CLI before every command, supervisors to see the
engine is up), so the socket listens, answering ``/_ping`` and ``/version``, before the engine
imports its services and reconciles them with the disk; every other request waits until that
is done (``engine.api.lazy.DeferredRoutes``), so none sees a half-built engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from engine import __version__
from engine.api.app import EngineApp
from engine.api.context import ApiContext
from engine.config import EngineConfig, reload_config
from engine.connection_limits import protocol_options
from engine.errors import EngineError, InvalidParameter
from engine.events.bus import EventBus
from engine.listeners import Address, Listeners, check_hosts
from engine.paths import Paths
from engine.tls import server_ssl_context

if TYPE_CHECKING:
    import ssl

    from engine.services import Services

log = logging.getLogger("doca.engine")

SHUTDOWN_TIMEOUT = 3.0


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
        self.services: Services | None = None
        self._addresses: list[Address] = []
        self._ssl: ssl.SSLContext | None = None
        self._runner: web.AppRunner | None = None
        self._listeners: Listeners | None = None
        self._stopping = asyncio.Event()
        self._failure: BaseException | None = None
        self._engine_id = ""

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
        self.events.publish("daemon", "reload", self._engine_id, {"name": "doca"})

    def _build(self, api: EngineApp) -> None:
        """Blocking: import the routes and the services, and prepare the services."""
        from engine.services import Services

        api.load_routes()
        self.services = Services(self.config, self.events)
        self.services.prepare()

    async def _start(self, api: EngineApp) -> None:
        built = asyncio.ensure_future(asyncio.to_thread(self._build, api))
        try:
            await asyncio.shield(built)
        except asyncio.CancelledError:
            # A stop while the thread builds: it cannot be interrupted, and what it sets up
            # must be closed, so let it finish first.
            with contextlib.suppress(Exception):
                await built
            raise
        services = self.services
        assert services is not None and services.containers is not None
        await services.restore()
        api.serve(
            ApiContext(
                config=self.config,
                paths=self.paths,
                events=self.events,
                images=services.images,
                containers=services.containers,
                volumes=services.volumes,
                networks=services.networks,
                downloads=services.downloads,
                distribution=services.distribution,
                build_cache=services.build_cache,
                engine_id=self._engine_id,
                started_at=time.time(),
            )
        )
        log.info("doca-engine %s ready (data root %s)", __version__, self.paths.data_root)

    def _started(self, start: asyncio.Task[None], api: EngineApp) -> None:
        if start.cancelled() or start.exception() is None:
            return
        self._failure = failure = start.exception()
        message = failure.message if isinstance(failure, EngineError) else str(failure)
        api.refuse(f"the engine could not start: {message}")
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.events.bind(loop)
        self._check_hosts()
        # A data root the engine cannot use stops it before it listens.
        self.paths.create()
        self._engine_id = _engine_id(self.paths)
        api = EngineApp()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        start: asyncio.Task[None] | None = None
        try:
            await self._listen(api.app)
            start = asyncio.create_task(self._start(api), name="engine-start")
            start.add_done_callback(lambda task: self._started(task, api))
            await self._stopping.wait()
            log.info("shutting down")
        finally:
            if start is not None and not start.done():
                start.cancel()
                await asyncio.gather(start, return_exceptions=True)
            if self.services is not None:
                await self.services.close()
            self.events.close()
            api.trimmer.close()
            if self._listeners is not None:
                self._listeners.close()
            if self._runner is not None:
                await self._runner.cleanup()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if self._failure is not None:
            raise self._failure
