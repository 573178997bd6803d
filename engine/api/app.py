"""The aiohttp application: the middlewares and every resource's routes."""

from __future__ import annotations

from aiohttp import web

from engine.api import archive, containers, execs, images, networks, stats, system, volumes
from engine.api.context import CONTEXT, ApiContext, Routes
from engine.api.errors import error_middleware
from engine.api.lazy import lazy_handler
from engine.api.version import version_middleware

# Uploads (image loads, imports) are streamed to disk, never held in memory: no size cap here.
CLIENT_MAX_SIZE = 0


def make_app(ctx: ApiContext) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, version_middleware], client_max_size=CLIENT_MAX_SIZE
    )
    app[CONTEXT] = ctx
    routes = Routes(app)
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
    return app
