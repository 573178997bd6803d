"""Image routes: thin handlers that decode a request, call the image service, encode.

Pull, push, load, save and search import their machinery (the registry client, compression,
archives) on their first request, as ``engine.api.lazy`` does for builds: an engine that serves
none of them does not hold it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from engine.api.context import Routes, context
from engine.api.params import bool_param, filters_param, int_param, registry_auth
from engine.api.responses import json_response
from engine.api.streams import (
    JsonStream,
    relay,
    run_with_progress,
    spooled_body,
    stream_from_thread,
)
from engine.api.version import VERSION_KEY
from engine.errors import InvalidParameter
from engine.images.importer import import_rootfs
from engine.images.platform_query import parse_platform
from engine.images.reference import parse_normalized_named, parse_reference
from engine.registry.auth import Credentials

if TYPE_CHECKING:
    from engine.images.save import SaveItem
    from engine.images.transfer_progress import ProgressQueue


async def list_images(request: web.Request) -> web.Response:
    images = context(request).images
    result = images.list_images(
        filters_param(request),
        all_images=bool_param(request, "all"),
        shared_size=bool_param(request, "shared-size"),
    )
    return json_response(result)


async def inspect_image(request: web.Request) -> web.Response:
    images = context(request).images
    return json_response(images.inspect(request.match_info["name"], request[VERSION_KEY]))


async def image_history(request: web.Request) -> web.Response:
    return json_response(context(request).images.history(request.match_info["name"]))


async def tag_image(request: web.Request) -> web.Response:
    images = context(request).images
    await images.tag(
        request.match_info["name"], request.query.get("repo", ""), request.query.get("tag")
    )
    return web.Response(status=201)


async def delete_image(request: web.Request) -> web.Response:
    images = context(request).images
    report = await images.delete(
        request.match_info["name"],
        force=bool_param(request, "force"),
        prune=not bool_param(request, "noprune"),
    )
    return json_response(report)


async def prune_images(request: web.Request) -> web.Response:
    return json_response(await context(request).images.prune(filters_param(request)))


async def load_images(request: web.Request) -> web.StreamResponse:
    from engine.images.load import ImageLoader

    ctx = context(request)
    quiet = bool_param(request, "quiet")
    stream = JsonStream(request)
    async with spooled_body(request, ctx.paths.tmp) as upload, ctx.images.lock:

        def work(progress: Callable[[dict[str, Any]], None]) -> list[str]:
            relay = (lambda m: progress(m) if "stream" in m else None) if quiet else progress
            return ImageLoader(ctx.images, relay).load(upload)

        try:
            await run_with_progress(stream, work)
        except InvalidParameter as exc:
            if not stream.started:
                raise
            await stream.send_error(exc.message)
    return await stream.finish()


async def create_image(request: web.Request) -> web.StreamResponse:
    """``docker pull`` (fromImage) or ``docker import`` (fromSrc)."""
    ctx = context(request)
    query = request.query
    if query.get("fromImage"):
        return await pull_image(request)
    source = query.get("fromSrc", "")
    if source != "-":
        raise InvalidParameter(
            "importing from a URL is not supported: pipe the archive to docker import instead"
        )
    repo = query.get("repo", "")
    tag = query.get("tag", "")
    ref = None
    if repo:
        ref = parse_reference(f"{repo}:{tag}" if tag else repo)
    changes = query.getall("changes", [])
    message = query.get("message", "")
    stream = JsonStream(request)
    async with spooled_body(request, ctx.paths.tmp) as upload, ctx.images.lock:
        image_id = await asyncio.to_thread(
            import_rootfs, ctx.images, upload, ref, message, list(changes)
        )
    await stream.send({"status": image_id})
    return await stream.finish()


async def pull_image(request: web.Request) -> web.StreamResponse:
    from engine.images.pull import ImagePuller, pull_reference

    ctx = context(request)
    query = request.query
    ref = pull_reference(query["fromImage"], query.get("tag", ""))
    platform = parse_platform(query["platform"]) if query.get("platform") else None
    credentials = Credentials.from_auth_config(registry_auth(request))
    downloads, known = ctx.downloads, ctx.distribution
    stream = JsonStream(request)

    async def job(queue: ProgressQueue) -> object:
        puller = ImagePuller(ctx.images, ctx.config, downloads, known, queue.emit)
        return await puller.pull(ref, credentials, platform)

    await relay(stream, job)
    return await stream.finish()


async def push_image(request: web.Request) -> web.StreamResponse:
    from engine.images.push import ImagePusher

    ctx = context(request)
    name = parse_normalized_named(request.match_info["name"])
    tag = request.query.get("tag") or name.tag
    credentials = Credentials.from_auth_config(registry_auth(request))
    known = ctx.distribution
    stream = JsonStream(request)

    async def job(queue: ProgressQueue) -> object:
        pusher = ImagePusher(ctx.images, ctx.config, known, ctx.paths.tmp, queue.emit)
        await pusher.push(replace(name, tag=None, digest=None), tag, credentials)
        return None

    await relay(stream, job)
    return await stream.finish()


async def search(request: web.Request) -> web.Response:
    from engine.images.search import search_images

    ctx = context(request)
    found = await search_images(
        request.query.get("term", ""),
        int_param(request, "limit"),
        filters_param(request),
        Credentials.from_auth_config(registry_auth(request)),
        ctx.config,
    )
    return json_response(found)


async def save_images(request: web.Request) -> web.StreamResponse:
    from engine.images.save import ArchiveWriter, SaveItem

    ctx = context(request)
    names = request.match_info.get("name")
    wanted = [names] if names else request.query.getall("names", [])
    if not wanted:
        raise InvalidParameter("no images named")
    items: dict[str, SaveItem] = {}
    for name in wanted:
        record, key = ctx.images.lookup(name)
        item = items.setdefault(record.id, SaveItem(record, []))
        if key is not None:  # saved by ID: no tag, as dockerd does
            item.refs.append(parse_reference(key, default_tag=None))
    for item in items.values():
        ctx.events.publish("image", "save", item.record.id, {"name": item.record.id})

    def produce(out: io.RawIOBase) -> None:
        ArchiveWriter(out, ctx.images.store).write(list(items.values()))  # type: ignore[arg-type]

    return await stream_from_thread(request, "application/x-tar", produce)


def register(routes: Routes) -> None:
    routes.add("GET", "/images/json", list_images)
    routes.add("POST", "/images/load", load_images)
    routes.add("POST", "/images/create", create_image)
    routes.add("POST", "/images/prune", prune_images)
    routes.add("GET", "/images/get", save_images)
    routes.add("GET", "/images/search", search)
    routes.add("GET", "/images/{name:.+}/json", inspect_image)
    routes.add("GET", "/images/{name:.+}/history", image_history)
    routes.add("GET", "/images/{name:.+}/get", save_images)
    routes.add("POST", "/images/{name:.+}/tag", tag_image)
    routes.add("POST", "/images/{name:.+}/push", push_image)
    routes.add("DELETE", "/images/{name:.+}", delete_image)
