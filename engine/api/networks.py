"""Network routes: thin handlers over the network service and container connections."""

from __future__ import annotations

from aiohttp import web

from engine.api.context import Routes, context
from engine.api.params import filters_param, json_body
from engine.api.responses import json_response


async def list_networks(request: web.Request) -> web.Response:
    return json_response(context(request).networks.list(filters_param(request)))


async def inspect_network(request: web.Request) -> web.Response:
    return json_response(context(request).networks.inspect(request.match_info["id"]))


async def create_network(request: web.Request) -> web.Response:
    record = await context(request).networks.create(await json_body(request))
    return json_response({"Id": record.id, "Warning": ""}, status=201)


async def remove_network(request: web.Request) -> web.Response:
    await context(request).networks.remove(request.match_info["id"])
    return web.Response(status=204)


async def connect_network(request: web.Request) -> web.Response:
    connections = context(request).containers.connections
    await connections.connect(request.match_info["id"], await json_body(request))
    return web.Response(status=200)


async def disconnect_network(request: web.Request) -> web.Response:
    connections = context(request).containers.connections
    await connections.disconnect(request.match_info["id"], await json_body(request))
    return web.Response(status=200)


async def prune_networks(request: web.Request) -> web.Response:
    deleted = await context(request).networks.prune(filters_param(request))
    return json_response({"NetworksDeleted": deleted or None})


def register(routes: Routes) -> None:
    routes.add("GET", "/networks", list_networks)
    routes.add("POST", "/networks/create", create_network)
    routes.add("POST", "/networks/prune", prune_networks)
    routes.add("GET", "/networks/{id}", inspect_network)
    routes.add("DELETE", "/networks/{id}", remove_network)
    routes.add("POST", "/networks/{id}/connect", connect_network)
    routes.add("POST", "/networks/{id}/disconnect", disconnect_network)
