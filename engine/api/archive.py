"""``/containers/{id}/archive``: what ``docker cp`` uses, both ways. HEAD and GET describe the path
in the ``X-Docker-Container-Path-Stat`` header (base64 of ContainerPathStat's JSON); GET sends a
tar of it and PUT extracts a tar into it."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from engine.api.context import Routes, context
from engine.api.params import bool_param
from engine.api.streams import spooled_body, stream_from_thread
from engine.api.version import API_VERSION_HEADERS
from engine.containers import archive
from engine.errors import InvalidParameter

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("bad parameter: pathcannot be empty")  # sic: dockerd's words
    return path


def _stat_header(stat: dict[str, Any]) -> dict[str, str]:
    return {STAT_HEADER: base64.b64encode(orjson.dumps(stat)).decode()}


async def head(request: web.Request) -> web.Response:
    ctx, ref, path = context(request), request.match_info["id"], _path(request)
    record, lifecycle = ctx.containers.get(ref), ctx.containers.lifecycle
    async with archive.container_root(lifecycle, ctx.images, record, ref, path) as root:
        stat = await asyncio.to_thread(archive.stat_path, root, path)
    return web.Response(headers={**API_VERSION_HEADERS, **_stat_header(stat)})


async def get(request: web.Request) -> web.StreamResponse:
    ctx, ref, path = context(request), request.match_info["id"], _path(request)
    record, lifecycle = ctx.containers.get(ref), ctx.containers.lifecycle
    source = archive.clean_path(path)
    async with archive.container_root(lifecycle, ctx.images, record, ref, path) as root:
        stat = await asyncio.to_thread(archive.stat_path, root, source)
        ctx.events.publish("container", "archive-path", record.id, lifecycle.attributes(record))

        def produce(out: io.RawIOBase) -> None:
            archive.export_path(root, source, out)  # type: ignore[arg-type]

        return await stream_from_thread(
            request, "application/x-tar", produce, headers=_stat_header(stat)
        )


async def put(request: web.Request) -> web.Response:
    ctx, ref, path = context(request), request.match_info["id"], _path(request)
    record, lifecycle = ctx.containers.get(ref), ctx.containers.lifecycle
    no_overwrite = bool_param(request, "noOverwriteDirNonDir")
    copy_ids = bool_param(request, "copyUIDGID")
    read_only = bool(record.host_config.get("ReadonlyRootfs"))

    def extract(root: Path, upload: Path) -> None:
        with upload.open("rb") as stream:
            archive.extract_to(root, path, stream, no_overwrite, copy_ids, read_only_root=read_only)

    async with (
        spooled_body(request, ctx.paths.tmp) as upload,
        archive.container_root(lifecycle, ctx.images, record, ref, path) as root,
    ):
        await asyncio.to_thread(extract, root, upload)
    ctx.events.publish("container", "extract-to-dir", record.id, lifecycle.attributes(record))
    return web.Response(headers=API_VERSION_HEADERS)


def register(routes: Routes) -> None:
    routes.add("HEAD", "/containers/{id}/archive", head)
    routes.add("GET", "/containers/{id}/archive", get)
    routes.add("PUT", "/containers/{id}/archive", put)
