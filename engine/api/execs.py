"""Exec routes: create, start (hijacked like attach), inspect, resize."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from engine.api import stdcopy
from engine.api.context import Routes, context
from engine.api.hijack import HijackedStream
from engine.api.params import int_param, json_body
from engine.api.responses import json_response
from engine.api.version import VERSION_KEY
from engine.containers.create_config import json_kind
from engine.containers.exec_process import ConsoleSize, decode_console_size
from engine.errors import EngineError, InvalidParameter
from engine.runtime.attach import AttachConnection


async def create_exec(request: web.Request) -> web.Response:
    ctx = context(request)
    container = ctx.containers.get(request.match_info["id"])
    record = ctx.containers.execs.create(
        container, await json_body(request), with_console_size=request[VERSION_KEY] >= (1, 42)
    )
    return json_response({"Id": record.id}, status=201)


async def start_exec(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await json_body(request) or {}
    if not isinstance(body, dict):
        raise InvalidParameter(
            f"json: cannot unmarshal {json_kind(body)} into Go value of type types.ExecStartCheck"
        )
    size = _console_size(request, body)
    execs = ctx.containers.execs
    record = execs.get(request.match_info["id"])
    if body.get("Detach"):
        await execs.start(record.id, detach=True, on_attach=None, console_size=size)
        return web.Response(status=200)
    tty = bool(record.config.get("Tty"))
    client = HijackedStream(request, tty)
    wanted = {n for n, key in ((1, "AttachStdout"), (2, "AttachStderr")) if record.config.get(key)}

    async def pump(conn: AttachConnection) -> None:
        feeder = None
        if record.config.get("AttachStdin"):
            feeder = asyncio.ensure_future(_feed(client, conn))
        try:
            async for frame in conn:
                if frame.stream in wanted:
                    await client.write(_encode(tty, frame.stream, frame.data))
        finally:
            if feeder is not None:
                feeder.cancel()
                with contextlib.suppress(BaseException):
                    await feeder

    await client.start()
    try:
        await execs.start(record.id, detach=False, on_attach=pump, console_size=size)
    except EngineError as exc:
        # The client is already hijacked: dockerd writes the error into the stream.
        await client.write(_encode(tty, 1, f"{exc.message}\r\n".encode()))
    return await client.close()


def _console_size(request: web.Request, body: dict[str, object]) -> ConsoleSize | None:
    size = decode_console_size(body.get("ConsoleSize"), "ExecStartOptions")
    # As dockerd: unknown before API 1.42, and only taken along with the start's own Tty.
    if request[VERSION_KEY] < (1, 42) or not body.get("Tty"):
        return None
    return size


def _encode(tty: bool, stream: int, data: bytes) -> bytes:
    return data if tty else stdcopy.frame(stream, data)


async def _feed(client: HijackedStream, conn: AttachConnection) -> None:
    while data := await client.read():
        await conn.write(data)
    conn.close_stdin()


async def inspect_exec(request: web.Request) -> web.Response:
    record = context(request).containers.execs.get(request.match_info["id"])
    return json_response(record.inspect())


async def resize_exec(request: web.Request) -> web.Response:
    ctx = context(request)
    ctx.containers.execs.resize(
        request.match_info["id"], int_param(request, "h", 0) or 0, int_param(request, "w", 0) or 0
    )
    return web.Response(status=201)


def register(routes: Routes) -> None:
    routes.add("POST", "/containers/{id}/exec", create_exec)
    routes.add("POST", "/exec/{id}/start", start_exec)
    routes.add("GET", "/exec/{id}/json", inspect_exec)
    routes.add("POST", "/exec/{id}/resize", resize_exec)
