"""Volume routes."""

from __future__ import annotations

import asyncio

from aiohttp import web

from engine.api.context import Routes, context
from engine.api.params import bool_param, filters_param, json_body
from engine.api.responses import json_response
from engine.errors import InvalidParameter


async def list_volumes(request: web.Request) -> web.Response:
    return json_response(context(request).volumes.list_volumes(filters_param(request)))


def _strings(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter(f"{what} must be an object of strings")
    return value


async def create_volume(request: web.Request) -> web.Response:
    body = await json_body(request) or {}
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: the request body must be an object")
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise InvalidParameter("Name must be a string")
    volumes = context(request).volumes
    async with volumes.lock:
        volume = await asyncio.to_thread(
            volumes.create,
            name,
            body.get("Driver") or None,
            _strings(body.get("DriverOpts"), "DriverOpts"),
            _strings(body.get("Labels"), "Labels"),
        )
    return json_response(volumes.inspect(volume.name), status=201)


async def inspect_volume(request: web.Request) -> web.Response:
    return json_response(context(request).volumes.inspect(request.match_info["name"]))


async def remove_volume(request: web.Request) -> web.Response:
    volumes = context(request).volumes
    async with volumes.lock:
        await asyncio.to_thread(
            volumes.remove, request.match_info["name"], bool_param(request, "force")
        )
    return web.Response(status=204)


async def prune_volumes(request: web.Request) -> web.Response:
    volumes = context(request).volumes
    async with volumes.lock:
        result = await asyncio.to_thread(volumes.prune, filters_param(request))
    return json_response(result)


def register(routes: Routes) -> None:
    routes.add("GET", "/volumes", list_volumes)
    routes.add("POST", "/volumes/create", create_volume)
    routes.add("POST", "/volumes/prune", prune_volumes)
    routes.add("GET", "/volumes/{name}", inspect_volume)
    routes.add("DELETE", "/volumes/{name}", remove_volume)
