"""Listings with distribution's pagination: ``n`` entries after ``last``, and a ``Link``
header pointing at the next page when there is one."""

from __future__ import annotations

import asyncio
import bisect
from urllib.parse import urlencode

from aiohttp import web

from engine.registry_server.errors import NAME_UNKNOWN, PAGINATION_NUMBER_INVALID, RegistryError
from engine.registry_server.names import Route
from engine.registry_server.state import RegistryState

CATALOG_DEFAULT = 100
MAX_ENTRIES = 1000


def page_size(value: str | None, default: int | None) -> int | None:
    """The ``n`` parameter: a count from 0 to MAX_ENTRIES; None means everything."""
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) > MAX_ENTRIES:
        raise RegistryError(PAGINATION_NUMBER_INVALID, {"n": value})
    return int(value)


def paginate(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """The entries of sorted ``items`` after ``last``, at most ``n``, and whether more follow."""
    rest = items[bisect.bisect_right(items, last) :] if last else items
    if n is None:
        return rest, False
    return rest[:n], len(rest) > n


def _listing(
    request: web.Request, key: str, items: list[str], default: int | None, extra: dict[str, str]
) -> web.Response:
    n = page_size(request.query.get("n"), default)
    page, more = paginate(items, n, request.query.get("last"))
    headers = {}
    if more and page:
        query = urlencode({"last": page[-1], "n": str(n)})
        headers["Link"] = f'<{request.path}?{query}>; rel="next"'
    return web.json_response({**extra, key: page}, headers=headers)


async def list_tags(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    index = await state.repositories.get(route.name)
    if index is None:
        raise RegistryError(NAME_UNKNOWN, {"name": route.name})
    return _listing(request, "tags", sorted(index.tags), None, {"name": route.name})


async def catalog(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    names = await asyncio.to_thread(state.repositories.names)
    return _listing(request, "repositories", names, CATALOG_DEFAULT, {})
