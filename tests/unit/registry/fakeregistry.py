"""A small in-memory Distribution registry for the client's unit tests.

It speaks just enough of the v2 API (manifests, blobs with Range, uploads, mounts, tags,
catalog, Basic or Bearer auth) and can misbehave on request: reset a blob mid-stream, answer
503, redirect blob downloads to a second server on another host name.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

MANIFEST_RE = r"/v2/{repo:.+}/manifests/{ref}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"errors": [{"code": code, "message": message, "detail": None}]},
        status=status,
        headers=headers,
    )


@dataclass
class FakeRegistry:
    auth: str = "none"  # "none" | "basic" | "bearer"
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    token_lifetime: int = 300
    blobs: dict[str, bytes] = field(default_factory=dict)
    repo_blobs: dict[str, set[str]] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    # misbehaviour knobs
    reset_blob_after: int | None = None  # close the connection after N bytes, once
    fail_blob_503: int = 0  # answer 503 this many times first
    redirect_blobs_to: str | None = None  # base URL of the storage server
    wrong_manifest_digest: bool = False
    manifest_override: bytes | None = None
    page_size: int = 0
    # observations
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_auth_headers: list[str | None] = field(default_factory=list)
    ranges: list[str | None] = field(default_factory=list)
    patches: list[tuple[str | None, int]] = field(default_factory=list)
    deleted_uploads: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    base_url: str = ""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/v2/", self.ping)
        app.router.add_get("/token", self.token)
        app.router.add_post("/token", self.token)
        app.router.add_get("/v2/_catalog", self.catalog)
        app.router.add_get("/v2/{repo:.+}/tags/list", self.tags)
        app.router.add_route("*", MANIFEST_RE, self.manifest)
        app.router.add_post("/v2/{repo:.+}/blobs/uploads/", self.start_upload)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/uploads/{uuid}", self.upload)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/{digest}", self.blob)
        return app

    # -- helpers -------------------------------------------------------------------------

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        self.repo_blobs.setdefault(repo, set()).add(digest)
        return digest

    def put_manifest(self, repo: str, tag: str, media_type: str, raw: bytes) -> str:
        digest = digest_of(raw)
        self.manifests[(repo, tag)] = (media_type, raw)
        self.manifests[(repo, digest)] = (media_type, raw)
        return digest

    @web.middleware
    async def _log(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.requests.append(
            (request.method, request.path_qs, request.headers.get("Authorization"))
        )
        if request.path != "/token" and not self._authorized(request):
            return self._challenge(request)
        return await handler(request)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth == "none":
            return True
        if self.auth == "basic":
            return header in {self._basic(u, p) for u, p in self.users.items()}
        return header.removeprefix("Bearer ") in self.tokens

    @staticmethod
    def _basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _challenge(self, request: web.Request) -> web.Response:
        if self.auth == "basic":
            value = 'Basic realm="fake"'
        else:
            value = f'Bearer realm="{self.base_url}/token",service="fake-registry"'
            match = re.match(r"/v2/(.+?)/(manifests|blobs|tags)/", request.path)
            if match:
                value += f',scope="repository:{match.group(1)}:pull"'
        return error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": value})

    # -- handlers ------------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def token(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.token_requests.append(params)
        header = request.headers.get("Authorization")
        self.token_auth_headers.append(header)
        if params.get("grant_type") == "refresh_token":
            if params.get("refresh_token") != "refresh-1":
                return web.json_response({"details": "invalid refresh token"}, status=401)
        elif header is not None and header not in {
            self._basic(u, p) for u, p in self.users.items()
        }:
            return web.json_response({"details": "incorrect username or password"}, status=401)
        token = uuid.uuid4().hex
        self.tokens.add(token)
        body: dict[str, object] = {"access_token": token, "expires_in": self.token_lifetime}
        if params.get("offline_token") == "true" or params.get("grant_type"):
            body["refresh_token"] = "refresh-1"
        return web.json_response(body)

    async def manifest(self, request: web.Request) -> web.StreamResponse:
        repo, ref = request.match_info["repo"], request.match_info["ref"]
        if request.method == "PUT":
            raw = await request.read()
            digest = self.put_manifest(repo, ref, request.content_type, raw)
            return web.Response(status=201, headers={"Docker-Content-Digest": digest})
        if (repo, ref) not in self.manifests:
            if not any(key[0] == repo for key in self.manifests):
                return error(404, "NAME_UNKNOWN", "repository name not known to registry")
            return error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, raw = self.manifests[(repo, ref)]
        if self.manifest_override is not None:
            raw = self.manifest_override
        digest = digest_of(raw)
        if self.wrong_manifest_digest:
            digest = "sha256:" + "0" * 64
        headers = {"Docker-Content-Digest": digest, "Content-Type": media_type}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(raw))
            return web.Response(status=200, headers=headers)
        return web.Response(status=200, body=raw, headers=headers)

    async def blob(self, request: web.Request) -> web.StreamResponse:
        repo, digest = request.match_info["repo"], request.match_info["digest"]
        if digest not in self.repo_blobs.get(repo, set()):
            return error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        data = self.blobs[digest]
        if self.redirect_blobs_to is not None:
            raise web.HTTPTemporaryRedirect(f"{self.redirect_blobs_to}/storage/{digest}")
        if request.method == "HEAD":
            return web.Response(headers={"Content-Length": str(len(data))})
        self.ranges.append(request.headers.get("Range"))
        if self.fail_blob_503:
            self.fail_blob_503 -= 1
            return error(503, "UNAVAILABLE", "try again later")
        return await serve_bytes(request, data, self)

    async def start_upload(self, request: web.Request) -> web.Response:
        repo = request.match_info["repo"]
        mount, source = request.query.get("mount"), request.query.get("from")
        if mount and source and mount in self.repo_blobs.get(source, set()):
            self.repo_blobs.setdefault(repo, set()).add(mount)
            return web.Response(status=201, headers={"Location": f"/v2/{repo}/blobs/{mount}"})
        upload = uuid.uuid4().hex
        self.uploads[upload] = bytearray()
        location = f"/v2/{repo}/blobs/uploads/{upload}?_state=s0"
        return web.Response(status=202, headers={"Location": location, "Range": "0-0"})

    async def upload(self, request: web.Request) -> web.Response:
        repo, upload = request.match_info["repo"], request.match_info["uuid"]
        if upload not in self.uploads:
            return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        buffer = self.uploads[upload]
        body = await request.read()
        if request.method == "DELETE":
            self.deleted_uploads.append(upload)
            del self.uploads[upload]
            return web.Response(status=204)
        if request.method == "PATCH":
            content_range = request.headers.get("Content-Range")
            self.patches.append((content_range, len(body)))
            if content_range and int(content_range.split("-")[0]) != len(buffer):
                return error(416, "BLOB_UPLOAD_INVALID", "bad range")
            buffer += body
            location = f"/v2/{repo}/blobs/uploads/{upload}?_state=s{len(buffer)}"
            return web.Response(status=202, headers={"Location": location})
        if request.method == "PUT":
            buffer += body
            digest = request.query.get("digest", "")
            if digest_of(bytes(buffer)) != digest:
                return error(
                    400, "DIGEST_INVALID", "provided digest did not match uploaded content"
                )
            del self.uploads[upload]
            self.put_blob(repo, bytes(buffer))
            return web.Response(status=201, headers={"Docker-Content-Digest": digest})
        return web.Response(status=405)

    def _page(self, request: web.Request, items: list[str]) -> tuple[list[str], dict[str, str]]:
        if not self.page_size:
            return items, {}
        last = request.query.get("last")
        start = items.index(last) + 1 if last in items else 0
        page = items[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(items):
            headers["Link"] = f'<{request.path}?n={self.page_size}&last={page[-1]}>; rel="next"'
        return page, headers

    async def tags(self, request: web.Request) -> web.Response:
        repo = request.match_info["repo"]
        tags = sorted(ref for r, ref in self.manifests if r == repo and ":" not in ref)
        if not tags:
            return error(404, "NAME_UNKNOWN", "repository name not known to registry")
        page, headers = self._page(request, tags)
        return web.json_response({"name": repo, "tags": page}, headers=headers)

    async def catalog(self, request: web.Request) -> web.Response:
        repos = sorted({r for r, _ in self.manifests} | set(self.repo_blobs))
        page, headers = self._page(request, repos)
        return web.json_response({"repositories": page}, headers=headers)


async def serve_bytes(
    request: web.Request, data: bytes, registry: FakeRegistry | None = None
) -> web.StreamResponse:
    """Serve ``data`` honouring ``Range: bytes=N-``, optionally breaking the connection once."""
    start = 0
    range_header = request.headers.get("Range")
    status = 200
    headers = {"Content-Type": "application/octet-stream"}
    if range_header:
        start = int(range_header.removeprefix("bytes=").split("-")[0])
        if start >= len(data):
            return web.Response(status=416)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(data) - start
    await response.prepare(request)
    body = data[start:]
    if registry is not None and registry.reset_blob_after is not None:
        cut, registry.reset_blob_after = registry.reset_blob_after, None
        await response.write(body[:cut])
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write(body)
    await response.write_eof()
    return response


@dataclass
class Storage:
    """A second server standing in for a blob storage backend on another host name."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    auth_headers: list[str | None] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/storage/{digest}", self.get)
        return app

    async def get(self, request: web.Request) -> web.StreamResponse:
        self.auth_headers.append(request.headers.get("Authorization"))
        return await serve_bytes(request, self.blobs[request.match_info["digest"]])


@asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Run ``app`` on a free loopback port; yields the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield port
    finally:
        await runner.cleanup()
