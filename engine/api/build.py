"""``POST /build`` (the classic builder's stream) and ``POST /build/prune``; routed through
``engine.api.lazy``, so the builder is imported by the first build."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from engine.api.context import ApiContext, context
from engine.api.params import bool_param, filters_param
from engine.api.responses import json_response
from engine.api.streams import JsonStream, relay, spooled_body
from engine.build import cache_usage
from engine.build.builder import Builder, Pull, tag_references
from engine.build.context import apply_dockerignore, drop_build_files, extract_context
from engine.build.ignore import PatternMatcher
from engine.build.options import BuildOptions, auth_for, parse_options
from engine.build.steps import BuildServices, short
from engine.errors import InvalidParameter
from engine.images.platform_query import parse_platform
from engine.images.pull import ImagePuller, pull_reference
from engine.images.reference import Reference
from engine.images.transfer_progress import ProgressQueue
from engine.registry.auth import Credentials


def _puller(ctx: ApiContext, options: BuildOptions, queue: ProgressQueue) -> Pull:
    platform = parse_platform(options.platform) if options.platform else None

    async def pull(name: str) -> str:
        ref = pull_reference(name)
        credentials = Credentials.from_auth_config(auth_for(options, ref.domain))
        emit = queue.emit if not options.quiet else (lambda _message: None)
        puller = ImagePuller(ctx.images, ctx.config, ctx.downloads, ctx.distribution, emit)
        return await puller.pull(ref, credentials, platform)

    return pull


async def _tag(ctx: ApiContext, image_id: str, refs: list[Reference]) -> None:
    for ref in refs:
        await ctx.images.tag(image_id, ref.name, ref.tag)


async def build(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    options = parse_options(request.query, request.headers.get("X-Registry-Config", ""))
    if options.remote:
        raise InvalidParameter(
            f"remote build contexts are not supported ({options.remote}): this engine builds "
            "offline; send the context as a tar (docker build DIR)"
        )
    refs = tag_references(options)
    scratch = ctx.paths.tmp
    scratch.mkdir(parents=True, exist_ok=True)
    stream = JsonStream(request)
    async with spooled_body(request, scratch) as upload:
        context_dir = Path(tempfile.mkdtemp(dir=scratch, prefix="build-"))
        try:
            ignored = await asyncio.to_thread(_unpack, upload, context_dir, options.dockerfile)
            services = BuildServices(ctx.images, ctx.containers, ctx.build_cache, scratch / "build")

            async def job(queue: ProgressQueue) -> object:
                builder = Builder(
                    services, options, context_dir, queue.emit, _puller(ctx, options, queue)
                )
                dockerfile = builder.read_dockerfile()
                await asyncio.to_thread(drop_build_files, context_dir, options.dockerfile, ignored)
                image_id = await builder.build(dockerfile)
                await _tag(ctx, image_id, refs)
                queue.emit({"aux": {"ID": image_id}})
                if options.quiet:
                    queue.emit({"stream": f"{image_id}\n"})
                    return image_id
                queue.emit({"stream": f"Successfully built {short(image_id)}\n"})
                for ref in refs:
                    queue.emit({"stream": f"Successfully tagged {ref.familiar()}\n"})
                return image_id

            await relay(stream, job)
        finally:
            await asyncio.to_thread(shutil.rmtree, context_dir, True)
    return await stream.finish()


def _unpack(upload: Path, context_dir: Path, dockerfile: str) -> PatternMatcher | None:
    with upload.open("rb") as body:
        extract_context(body, context_dir)
    return apply_dockerignore(context_dir, dockerfile)


async def prune(request: web.Request) -> web.Response:
    ctx = context(request)
    filters = filters_param(request)
    cache_usage.check_prune_query(request.query.get("keep-storage", ""))
    all_entries = bool_param(request, "all")
    async with ctx.images.lock:
        report = await asyncio.to_thread(
            cache_usage.prune, ctx.build_cache, ctx.images, ctx.containers, all_entries, filters
        )
    return json_response(report)
