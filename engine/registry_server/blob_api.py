"""Blob endpoints: fetch, delete, and the upload protocol (start, mount, chunks, finish)."""

from __future__ import annotations

import re

from aiohttp import web

from engine.content.store import DigestMismatch
from engine.registry_server.errors import (
    BLOB_UNKNOWN,
    DIGEST_INVALID,
    RANGE_INVALID,
    SIZE_INVALID,
    RegistryError,
)
from engine.registry_server.names import Route, check_digest, check_name
from engine.registry_server.repository import RepositoryIndex
from engine.registry_server.state import RegistryState
from engine.registry_server.uploads import Upload

_CONTENT_RANGE = re.compile(r"^(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
READ_CHUNK = 1 << 16


async def _linked_blob(state: RegistryState, route: Route) -> str:
    digest = check_digest(route.ref)
    index = await state.repositories.get(route.name)
    if index is None or digest not in index.blobs or not state.store.exists(digest):
        raise RegistryError(BLOB_UNKNOWN, {"digest": digest})
    return digest


async def get_blob(request: web.Request, state: RegistryState, route: Route) -> web.StreamResponse:
    """GET and HEAD; FileResponse answers Range requests with 206 or 416."""
    digest = await _linked_blob(state, route)
    headers = {
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        "Cache-Control": "max-age=31536000",
    }
    return web.FileResponse(state.store.path(digest), headers=headers)


async def delete_blob(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    digest = check_digest(route.ref)

    def unlink(index: RepositoryIndex) -> None:
        # Raising here leaves the index (and a repository that did not exist) untouched.
        if digest not in index.blobs:
            raise RegistryError(BLOB_UNKNOWN, {"digest": digest})
        index.blobs.discard(digest)

    await state.repositories.update(route.name, unlink)
    return web.Response(status=202, headers={"Docker-Content-Digest": digest})


def _upload_headers(route: Route, upload: Upload) -> dict[str, str]:
    return {
        "Location": f"/v2/{route.name}/blobs/uploads/{upload.id}",
        "Range": upload.range_header(),
        "Docker-Upload-UUID": upload.id,
    }


def _created(name: str, digest: str) -> web.Response:
    headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
    return web.Response(status=201, headers=headers)


async def _mount(state: RegistryState, name: str, digest: str, source: str) -> bool:
    """Link a blob of repository ``source`` into ``name``; False when that cannot be done."""
    try:
        check_digest(digest)
        check_name(source)
    except RegistryError:
        return False
    index = await state.repositories.get(source)
    if index is None or digest not in index.blobs or not state.store.exists(digest):
        return False
    await state.repositories.update(name, lambda target: target.blobs.add(digest))
    return True


async def start_upload(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    """POST: a monolithic upload (``?digest=``), a mount (``?mount=&from=``) or a session."""
    query = request.query
    if "digest" in query:
        digest = check_digest(query["digest"])
        upload = await state.uploads.start(route.name)
        async with upload.lock:
            return await _finish(request, state, route, upload, digest)
    mount, source = query.get("mount"), query.get("from")
    if mount and source and await _mount(state, route.name, mount, source):
        return _created(route.name, mount)
    upload = await state.uploads.start(route.name)
    return web.Response(status=202, headers=_upload_headers(route, upload))


def _check_content_range(request: web.Request, route: Route, upload: Upload) -> None:
    """A chunk must start where the upload ends, and its length must match its range."""
    value = request.headers.get("Content-Range")
    if value is None:
        return
    match = _CONTENT_RANGE.match(value.strip())
    start, end = (int(match[1]), int(match[2])) if match else (-1, -1)
    if match is None or start > end or start != upload.size:
        raise RegistryError(
            RANGE_INVALID,
            {"range": value, "offset": upload.size},
            headers=_upload_headers(route, upload),
        )
    if request.content_length is not None and request.content_length != end - start + 1:
        raise RegistryError(SIZE_INVALID, {"range": value, "length": request.content_length})


async def upload_chunk(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    """PATCH: append the body (streamed, or one ranged chunk) to the upload."""
    upload = state.uploads.get(route.name, route.ref)
    async with upload.lock:
        upload = state.uploads.get(route.name, route.ref)  # it may have ended while we waited
        _check_content_range(request, route, upload)
        await upload.append(request.content.iter_chunked(READ_CHUNK))
    return web.Response(status=202, headers=_upload_headers(route, upload))


async def finish_upload(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    """PUT ``?digest=``: append a last chunk if any, verify the digest and publish the blob.

    A missing or unparsable digest leaves the upload open for a retry, as distribution does;
    a digest that does not match the data ends the upload without storing anything.
    """
    if not request.query.get("digest"):
        raise RegistryError(DIGEST_INVALID, "digest missing")
    digest = check_digest(request.query["digest"])
    upload = state.uploads.get(route.name, route.ref)
    async with upload.lock:
        upload = state.uploads.get(route.name, route.ref)
        _check_content_range(request, route, upload)
        return await _finish(request, state, route, upload, digest)


async def _finish(
    request: web.Request, state: RegistryState, route: Route, upload: Upload, digest: str
) -> web.Response:
    try:
        await upload.append(request.content.iter_chunked(READ_CHUNK))
    except BaseException:
        await state.uploads.cancel(upload)
        raise
    try:
        await state.uploads.commit(upload, digest)
    except DigestMismatch as exc:
        raise RegistryError(DIGEST_INVALID, exc.message) from exc
    await state.repositories.update(route.name, lambda index: index.blobs.add(digest))
    return _created(route.name, digest)


async def upload_status(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    upload = state.uploads.get(route.name, route.ref)
    return web.Response(status=204, headers=_upload_headers(route, upload))


async def cancel_upload(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    upload = state.uploads.get(route.name, route.ref)
    async with upload.lock:
        upload = state.uploads.get(route.name, route.ref)
        await state.uploads.cancel(upload)
    return web.Response(status=204, headers={"Docker-Upload-UUID": upload.id})
