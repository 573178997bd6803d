"""Container routes: thin handlers over the container service."""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import Any

from aiohttp import web

from engine.api import stdcopy
from engine.api.context import Routes, context
from engine.api.hijack import HijackedStream
from engine.api.params import bool_param, filters_param, int_param, json_body
from engine.api.responses import json_response
from engine.api.streams import JsonStream, stream_from_thread
from engine.containers import filesystem, views
from engine.containers.detach_keys import DetachMatcher, parse_detach_keys
from engine.containers.image_trust import verify_image_trust
from engine.containers.io import attach_connection, container_logs, resize_tty
from engine.containers.listing import list_containers
from engine.errors import InvalidParameter
from engine.filters import parse_timestamp
from engine.images.reference import parse_reference
from engine.rootless.limits import discard_resource_limits
from engine.runtime.attach import AttachConnection
from engine.system.disk_usage import container_sizes


async def list_(request: web.Request) -> web.Response:
    ctx = context(request)
    rows = list_containers(
        ctx.containers.store,
        ctx.images,
        filters_param(request),
        all_=bool_param(request, "all"),
        limit=int_param(request, "limit"),
        sandboxes=ctx.containers.lifecycle.sandboxes,
    )
    if bool_param(request, "size"):
        for row in rows:
            row["SizeRw"], row["SizeRootFs"] = await asyncio.to_thread(
                container_sizes, ctx.containers, row["Id"]
            )
    return json_response(rows)


async def create(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await json_body(request)
    await verify_image_trust(ctx.config, ctx.images, body)
    warnings: list[str] = []
    if ctx.config.rootless and isinstance(body, dict) and isinstance(body.get("HostConfig"), dict):
        controllers = ctx.containers.lifecycle.setup.cgroups.controllers or frozenset()
        warnings = discard_resource_limits(body["HostConfig"], controllers)
    record = await ctx.containers.create(request.query.get("name") or None, body)
    return json_response({"Id": record.id, "Warnings": warnings}, status=201)


async def inspect(request: web.Request) -> web.Response:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    chain = ctx.images.store.images.get(record.image_id)
    lowers = ""
    if chain is not None and chain.chain_id:
        lowers = ":".join(str(p) for p in ctx.images.store.snapshots.lowerdirs(chain.chain_id))
    paths = ctx.containers.lifecycle.paths(record)
    sandbox = ctx.containers.lifecycle.sandboxes.get(record.id)
    execs = ctx.containers.execs.running_ids(record.id)
    return json_response(views.inspect(record, paths, lowers, sandbox, execs))


async def start(request: web.Request) -> web.Response:
    await context(request).containers.start(request.match_info["id"])
    return web.Response(status=204)


async def stop(request: web.Request) -> web.Response:
    await context(request).containers.stop(
        request.match_info["id"], int_param(request, "t"), request.query.get("signal")
    )
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    await context(request).containers.restart(
        request.match_info["id"], int_param(request, "t"), request.query.get("signal")
    )
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    await context(request).containers.kill(request.match_info["id"], request.query.get("signal"))
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    await context(request).containers.pause(request.match_info["id"])
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await context(request).containers.unpause(request.match_info["id"])
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    await context(request).containers.remove(
        request.match_info["id"],
        force=bool_param(request, "force"),
        volumes=bool_param(request, "v"),
    )
    return web.Response(status=204)


async def update(request: web.Request) -> web.Response:
    await context(request).containers.update(request.match_info["id"], await json_body(request))
    return json_response({"Warnings": []})


async def rename(request: web.Request) -> web.Response:
    await context(request).containers.rename(
        request.match_info["id"], request.query.get("name", "")
    )
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    return json_response(await context(request).containers.prune(filters_param(request)))


async def wait(request: web.Request) -> web.StreamResponse:
    """Headers go out at once: ``docker run`` waits for them before it starts the container."""
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    condition = request.query.get("condition", "")
    stream = JsonStream(request)
    waiter = asyncio.ensure_future(ctx.containers.wait(record, condition))
    try:
        if not waiter.done():
            await stream.finish_headers()
        code = await waiter
    finally:
        waiter.cancel()
    await stream.response.write(b'{"Error":null,"StatusCode":%d}\n' % code)
    return await stream.finish()


async def resize(request: web.Request) -> web.Response:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    height, width = int_param(request, "h", 0), int_param(request, "w", 0)
    resize_tty(ctx.containers.lifecycle, record, height or 0, width or 0)
    return web.Response(status=200)


async def _pump_output(
    conn: AttachConnection, client: HijackedStream, tty: bool, wanted: set[int]
) -> None:
    async for frame in conn:
        if frame.stream not in wanted:
            continue
        await client.write(frame.data if tty else stdcopy.frame(frame.stream, frame.data))


async def _pump_input(
    client: HijackedStream, conn: AttachConnection, detach: DetachMatcher | None
) -> bool:
    """Client → container stdin; True when the client typed the detach keys."""
    while data := await client.read():
        detached = False
        if detach is not None:
            data, detached = detach.feed(data)
        if data:
            await conn.write(data)
        if detached:
            return True
    conn.close_stdin()
    return False


async def attach(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    tty = bool(record.config.get("Tty"))
    wanted = {n for n, key in ((1, "stdout"), (2, "stderr")) if bool_param(request, key)}
    keys = parse_detach_keys(request.query.get("detachKeys"))
    attributes = ctx.containers.lifecycle.attributes(record)
    client = HijackedStream(request, tty)
    async with attach_connection(ctx.containers.lifecycle, record) as pending:
        await client.start()
        if bool_param(request, "logs"):
            async for stream_no, data in container_logs(
                ctx.containers.lifecycle, record, stdout=1 in wanted, stderr=2 in wanted,
                follow=False, since_ns=None, until_ns=None, tail=None, timestamps=False,
            ):  # fmt: skip
                await client.write(data if tty else stdcopy.frame(stream_no, data))
        if not bool_param(request, "stream"):
            return await client.close()
        try:
            conn = await pending
        except Exception:
            # The start failed; its caller reports why. The attached client just ends.
            return await client.close()
        output = asyncio.ensure_future(_pump_output(conn, client, tty, wanted))
        tasks: list[asyncio.Future[Any]] = [output]
        if bool_param(request, "stdin") and record.config.get("OpenStdin"):
            detach = DetachMatcher(keys) if tty else None
            tasks.append(asyncio.ensure_future(_pump_input(client, conn, detach)))
        lost = asyncio.ensure_future(client.lost.wait())
        tasks.append(lost)
        ctx.events.publish("container", "attach", record.id, attributes)
        try:
            # The session lasts until the container's output ends, the detach keys are typed,
            # or the client goes away.
            waiting = set(tasks)
            while output in waiting and lost in waiting:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if any(t not in (output, lost) and not t.exception() and t.result() for t in done):
                    ctx.events.publish("container", "detach", record.id, attributes)
                    break
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
    return await client.close()


async def logs(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    stdout, stderr = bool_param(request, "stdout"), bool_param(request, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("You must choose at least one stream")
    tail_text = request.query.get("tail", "all")
    tail = None if tail_text in ("", "all") else int_param(request, "tail")
    since = request.query.get("since")
    until = request.query.get("until")
    tty = bool(record.config.get("Tty"))
    response = web.StreamResponse(
        headers={"Content-Type": "application/vnd.docker.raw-stream" if tty else
                 "application/vnd.docker.multiplexed-stream"}
    )  # fmt: skip
    await response.prepare(request)
    async for stream_no, data in container_logs(
        ctx.containers.lifecycle,
        record,
        stdout=stdout,
        stderr=stderr,
        follow=bool_param(request, "follow"),
        since_ns=int(parse_timestamp(since) * 1e9) if since and since != "0" else None,
        until_ns=int(parse_timestamp(until) * 1e9) if until and until != "0" else None,
        tail=tail,
        timestamps=bool_param(request, "timestamps"),
    ):
        await response.write(data if tty else stdcopy.frame(stream_no, data))
    await response.write_eof()
    return response


def register(routes: Routes) -> None:
    routes.add("GET", "/containers/json", list_)
    routes.add("POST", "/containers/create", create)
    routes.add("POST", "/containers/prune", prune)
    routes.add("GET", "/containers/{id}/json", inspect)
    routes.add("POST", "/containers/{id}/start", start)
    routes.add("POST", "/containers/{id}/stop", stop)
    routes.add("POST", "/containers/{id}/restart", restart)
    routes.add("POST", "/containers/{id}/kill", kill)
    routes.add("POST", "/containers/{id}/pause", pause)
    routes.add("POST", "/containers/{id}/unpause", unpause)
    routes.add("POST", "/containers/{id}/wait", wait)
    routes.add("POST", "/containers/{id}/rename", rename)
    routes.add("POST", "/containers/{id}/update", update)
    routes.add("POST", "/containers/{id}/resize", resize)
    routes.add("POST", "/containers/{id}/attach", attach)
    routes.add("GET", "/containers/{id}/logs", logs)
    routes.add("DELETE", "/containers/{id}", remove)
    register_filesystem(routes)


async def export(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])

    def produce(out: io.RawIOBase) -> None:
        filesystem.export(ctx.containers.lifecycle, ctx.images, record, out)  # type: ignore[arg-type]

    ctx.events.publish(
        "container", "export", record.id, ctx.containers.lifecycle.attributes(record)
    )
    return await stream_from_thread(request, "application/x-tar", produce)


async def changes(request: web.Request) -> web.Response:
    ctx = context(request)
    record = ctx.containers.get(request.match_info["id"])
    found = await asyncio.to_thread(filesystem.diff, ctx.containers.lifecycle, ctx.images, record)
    return json_response([change.to_json() for change in found] or None)


async def commit(request: web.Request) -> web.Response:
    ctx = context(request)
    query = request.query
    record = ctx.containers.get(query.get("container", ""))
    repo, tag = query.get("repo", ""), query.get("tag", "")
    ref = parse_reference(f"{repo}:{tag}" if tag else repo) if repo else None
    body = await json_body(request)
    pause = bool_param(request, "pause", True) and record.state.status.value == "running"
    if pause:
        await ctx.containers.pause(record.id)
    try:
        async with ctx.images.lock:
            image_id = await asyncio.to_thread(
                filesystem.commit, ctx.containers.lifecycle, ctx.images, record, ref,
                query.get("comment", ""), query.get("author", ""),
                list(query.getall("changes", [])), body if isinstance(body, dict) else None,
            )  # fmt: skip
    finally:
        if pause:
            await ctx.containers.unpause(record.id)
    attrs = {**ctx.containers.lifecycle.attributes(record), "comment": query.get("comment", "")}
    ctx.events.publish("container", "commit", record.id, attrs)
    return json_response({"Id": image_id}, status=201)


def register_filesystem(routes: Routes) -> None:
    routes.add("GET", "/containers/{id}/export", export)
    routes.add("GET", "/containers/{id}/changes", changes)
    routes.add("POST", "/commit", commit)
