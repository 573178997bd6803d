"""Routes whose handlers are imported on their first request.

The builder and its Dockerfile machinery are a good part of the engine's imports but serve
one kind of request; importing them then keeps them out of the engine's start-up time and
out of the memory of engines that never build.
"""

from __future__ import annotations

import importlib

from aiohttp import web
from aiohttp.typedefs import Handler


def lazy_handler(module: str, name: str) -> Handler:
    """A handler standing for ``module.name``, importing ``module`` when first called."""
    loaded: list[Handler] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module), name))
        return await loaded[0](request)

    return handle
