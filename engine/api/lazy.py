"""Routes that cost nothing at start-up.

``lazy_handler``: the builder and its Dockerfile machinery are a good part of the engine's
imports but serve one kind of request; importing them on the first build keeps them out of the
memory of engines that never build.

``DeferredRoutes``: the engine listens before its services exist (``/_ping`` answers at once),
so every other route lives in a router of its own that requests reach only once the engine has
built its services and imported the resource modules; until then they wait. aiohttp awaits a
resource's ``resolve``, which is where they wait: before any middleware or handler runs.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict


def lazy_handler(module: str, name: str) -> Handler:
    """A handler standing for ``module.name``, importing ``module`` when first called."""
    loaded: list[Handler] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if not loaded:
            loaded.append(getattr(importlib.import_module(module), name))
        return await loaded[0](request)

    return handle


class DeferredRoutes(web.AbstractResource):
    """The routes in ``router``, matched from ``open`` on; requests that come before wait.

    Registered last on the app's router, at the root, it is consulted for every path the app's
    own routes do not serve. ``refuse`` answers every waiting and later request with one
    handler instead (the engine could not start).
    """

    def __init__(self) -> None:
        super().__init__()
        self.router = web.UrlDispatcher()
        self._opened = asyncio.Event()
        self._refusal: web.UrlDispatcher | None = None

    def open(self) -> None:
        self._opened.set()

    def refuse(self, handler: Handler) -> None:
        refusal = web.UrlDispatcher()
        refusal.add_route("*", "/{tail:.*}", handler)
        self._refusal = refusal
        self._opened.set()

    async def resolve(
        self, request: web.Request
    ) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        if not self._opened.is_set():
            await self._opened.wait()
        router = self.router if self._refusal is None else self._refusal  # routers are Sized
        match = await router.resolve(request)
        error = match.http_exception
        if error is None:
            return match, set()
        if isinstance(error, web.HTTPMethodNotAllowed):
            return None, set(error.allowed_methods)
        return None, set()

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> URL:
        raise NotImplementedError("deferred routes have no URL of their own")

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("deferred routes do not serve under a sub-application")

    def get_info(self) -> _InfoDict:
        return {"path": "/", "routes": {}}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return len(self.router.routes())

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(self.router.routes())
