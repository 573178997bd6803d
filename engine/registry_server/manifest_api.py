"""Manifest endpoints: fetch by tag or digest, push with reference checks, delete."""

from __future__ import annotations

import asyncio

from aiohttp import web

from engine.content.store import sha256_digest
from engine.registry_server.errors import (
    DIGEST_INVALID,
    MANIFEST_BLOB_UNKNOWN,
    MANIFEST_INVALID,
    MANIFEST_UNKNOWN,
    NAME_UNKNOWN,
    RegistryError,
)
from engine.registry_server.manifests import MAX_MANIFEST_SIZE, ManifestRefs, parse_manifest
from engine.registry_server.names import Route, check_reference, is_tag
from engine.registry_server.repository import RepositoryIndex
from engine.registry_server.state import RegistryState


async def get_manifest(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    """GET and HEAD; the body is sent back byte for byte, so its digest stays the same."""
    reference = check_reference(route.ref)
    index = await state.repositories.get(route.name)
    if index is None:
        raise RegistryError(NAME_UNKNOWN, {"name": route.name})
    digest = index.resolve(reference)
    if digest is None or not state.store.exists(digest):
        raise RegistryError(MANIFEST_UNKNOWN, {"name": route.name, "reference": reference})
    body = await asyncio.to_thread(state.store.read, digest)
    headers = {
        "Content-Type": index.manifests[digest],
        "Docker-Content-Digest": digest,
        "Etag": f'"{digest}"',
    }
    return web.Response(body=body, headers=headers)


async def _read_body(request: web.Request) -> bytes:
    """The request body, refused once it grows past the manifest size limit."""
    too_large = RegistryError(
        MANIFEST_INVALID, f"manifest is larger than {MAX_MANIFEST_SIZE} bytes"
    )
    if (request.content_length or 0) > MAX_MANIFEST_SIZE:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_MANIFEST_SIZE:
            raise too_large
    return bytes(body)


def _check_references(state: RegistryState, index: RepositoryIndex, refs: ManifestRefs) -> None:
    """Every blob and child manifest the manifest names must already be in the repository."""
    for digest in refs.blobs:
        if digest not in index.blobs or not state.store.exists(digest):
            raise RegistryError(MANIFEST_BLOB_UNKNOWN, digest)
    for digest in refs.manifests:
        if digest not in index.manifests:
            raise RegistryError(MANIFEST_BLOB_UNKNOWN, digest)


async def put_manifest(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    reference = check_reference(route.ref)
    body = await _read_body(request)
    refs = parse_manifest(body, request.headers.get("Content-Type"))
    digest = sha256_digest(body)
    tag = reference if is_tag(reference) else None
    if tag is None and reference != digest:
        raise RegistryError(DIGEST_INVALID, f"manifest digest {digest} does not match {reference}")
    # Checked before storing, so a rejected push leaves no bytes behind, and again under the
    # repository's lock, where it counts.
    _check_references(state, await state.repositories.get(route.name) or RepositoryIndex(), refs)
    await asyncio.to_thread(state.store.write_bytes, body, digest)

    def record(index: RepositoryIndex) -> None:
        _check_references(state, index, refs)
        index.manifests[digest] = refs.media_type
        if tag is not None:
            index.tags[tag] = digest

    await state.repositories.update(route.name, record)
    headers = {"Location": f"/v2/{route.name}/manifests/{digest}", "Docker-Content-Digest": digest}
    return web.Response(status=201, headers=headers)


async def delete_manifest(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    """By digest: the manifest and its tags leave the repository; by tag: only that tag."""
    reference = check_reference(route.ref)
    if await state.repositories.get(route.name) is None:
        raise RegistryError(NAME_UNKNOWN, {"name": route.name})

    def remove(index: RepositoryIndex) -> None:
        if is_tag(reference):
            found = index.tags.pop(reference, None) is not None
        else:
            found = index.delete_manifest(reference)
        if not found:
            raise RegistryError(MANIFEST_UNKNOWN, {"name": route.name, "reference": reference})

    await state.repositories.update(route.name, remove)
    return web.Response(status=202)
