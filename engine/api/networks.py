"""Network routes. Containers have loopback-only or host networking so far, and there are no
user-defined networks yet: prune has nothing to delete, but answers so that
``docker system prune`` works."""

from __future__ import annotations

from aiohttp import web

from engine.api.context import Routes
from engine.api.params import filters_param
from engine.api.responses import json_response

PRUNE_FILTERS = ("until", "label", "label!")


async def prune_networks(request: web.Request) -> web.Response:
    filters_param(request).validate(PRUNE_FILTERS)
    return json_response({"NetworksDeleted": None})


def register(routes: Routes) -> None:
    routes.add("POST", "/networks/prune", prune_networks)
