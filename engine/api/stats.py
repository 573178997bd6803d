"""``docker stats`` and ``docker top``: resource use read from the container's cgroup, and its
processes as the host's ps lists them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from engine.api.context import Routes, context
from engine.api.params import bool_param
from engine.api.responses import json_response
from engine.api.streams import JsonStream
from engine.containers.state import is_running
from engine.containers.stats import StatsSample, stats_json, take_sample, zero_stats_json
from engine.containers.top import top_container

INTERVAL = 1.0


async def stats(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    cgroups = ctx.containers.lifecycle.setup.cgroups
    mounts, parent = cgroups.mounts, cgroups.parent
    stream = bool_param(request, "stream", True)
    one_shot = bool_param(request, "one-shot")
    out = JsonStream(request)
    if not is_running(record.state.status):
        await out.send(zero_stats_json(record.name, record.id))
        return await out.finish()

    async def sample() -> StatsSample:
        return await asyncio.to_thread(
            take_sample, mounts, record.id, pid=record.state.pid, parent=parent
        )

    previous = None
    current = await sample()
    if not stream and not one_shot:
        # Two readings a second apart, so that the CPU percentage can be computed at once.
        await asyncio.sleep(INTERVAL)
        previous, current = current, await sample()
    while True:
        await out.send(stats_json(record.name, record.id, current, previous))
        if not stream or not is_running(record.state.status):
            break
        await asyncio.sleep(INTERVAL)
        if not is_running(record.state.status):
            break
        previous, current = current, await sample()
    return await out.finish()


async def top(request: web.Request) -> web.Response:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    runtime = ctx.containers.lifecycle.setup.runtime
    return json_response(await top_container(record, runtime, request.query.get("ps_args", "")))


def register(routes: Routes) -> None:
    routes.add("GET", "/containers/{id}/stats", stats)
    routes.add("GET", "/containers/{id}/top", top)
