"""The aiohttp application: the middlewares and every resource's routes.

``/_ping`` and ``/version`` answer from the moment the engine listens; every other route
once the engine has its services (``serve``), requests before that waiting for it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.api import ping
from engine.api.context import CONTEXT, ApiContext, ContextSlot, Routes
from engine.api.errors import error_middleware
from engine.api.lazy import DeferredRoutes, lazy_handler
from engine.api.version import version_middleware
from engine.errors import Unavailable
from engine.heap_trim import HeapTrimmer

# Uploads (image loads, imports) are streamed to disk, never held in memory: no size cap here.
CLIENT_MAX_SIZE = 0


def register_routes(routes: Routes) -> None:
    """Every resource's routes but ``engine.api.ping``'s. Imports every resource module and,
    through them, most of the engine: call it off the event loop."""
    from engine.api import archive, containers, execs, images, networks, stats, system, volumes

    system.register(routes)
    images.register(routes)
    containers.register(routes)
    archive.register(routes)
    execs.register(routes)
    stats.register(routes)
    volumes.register(routes)
    networks.register(routes)
    routes.add("POST", "/build", lazy_handler("engine.api.build", "build"))
    routes.add("POST", "/build/prune", lazy_handler("engine.api.build", "prune"))


class EngineApp:
    """The application, serving ``/_ping`` and ``/version`` from the start."""

    def __init__(self) -> None:
        self.trimmer = HeapTrimmer()

        @web.middleware
        async def trim_when_idle(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                return await handler(request)
            finally:
                self.trimmer.touch()

        self.app = web.Application(
            middlewares=[trim_when_idle, error_middleware, version_middleware],
            client_max_size=CLIENT_MAX_SIZE,
        )
        self._slot = ContextSlot()
        self.app[CONTEXT] = self._slot
        ping.register(Routes(self.app.router))
        self._deferred = DeferredRoutes()
        self.app.router.register_resource(self._deferred)

    def load_routes(self) -> None:
        """Import and register every other route (blocking; they serve nothing yet)."""
        register_routes(Routes(self._deferred.router))

    def serve(self, ctx: ApiContext) -> None:
        """Open every route, with the engine's services (after ``load_routes``)."""
        self._slot.value = ctx
        self._deferred.open()
        self.trimmer.touch()  # start-up's imports and scans freed much

    def refuse(self, message: str) -> None:
        """Answer every request but ``/_ping`` and ``/version`` with 503 and ``message``."""

        async def unavailable(request: web.Request) -> web.StreamResponse:
            raise Unavailable(message)

        self._deferred.refuse(unavailable)
