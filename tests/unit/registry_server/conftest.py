"""A registry server on 127.0.0.1:0 per test, and a small client for the protocol."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from engine.registry_server import Htpasswd, RegistryState, create_app
from engine.registry_server.manifests import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

USER, PASSWORD = "alice", "s3cret"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return str(self.json()["errors"][0]["code"])


@dataclass
class Registry:
    root: Path
    host: str
    port: int
    session: aiohttp.ClientSession
    authorization: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        headers: dict[str, str] | None = None,
        authorization: str | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if authorization or self.authorization:
            sent["Authorization"] = authorization or self.authorization or ""

        async with self.session.request(
            method,
            self.url + path,
            data=data,
            headers=sent,
            allow_redirects=False,
        ) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read())

    async def raw(self, request_line: str, headers: str = "") -> Reply:
        """Send a request line exactly as given, bypassing any client-side URL normalisation."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            sent = f"{request_line}\r\nHost: {self.host}\r\n{headers}Connection: close\r\n"
            writer.write(sent.encode() + b"\r\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        parsed = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return Reply(status, parsed, body)

    async def push_blob(self, name: str, data: bytes) -> str:
        digest = digest_of(data)
        reply = await self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data)
        assert reply.status == 201, reply
        return digest

    async def push_image(
        self, name: str, tag: str, layer: bytes = b"layer", media_type: str = DOCKER_MANIFEST
    ) -> tuple[str, bytes]:
        """Push a config and one layer, then a manifest; return the manifest digest and body."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "layer": len(layer)}).encode()
        config_digest = await self.push_blob(name, config)
        layer_digest = await self.push_blob(name, layer)
        body = manifest_body(media_type, (config_digest, len(config)), [(layer_digest, len(layer))])
        reply = await self.request(
            "PUT", f"/v2/{name}/manifests/{tag}", body, {"Content-Type": media_type}
        )
        assert reply.status == 201, reply
        return digest_of(body), body


def manifest_body(media_type: str, config: tuple[str, int], layers: list[tuple[str, int]]) -> bytes:
    docker = media_type == DOCKER_MANIFEST
    config_type = (
        "application/vnd.docker.container.image.v1+json"
        if docker
        else "application/vnd.oci.image.config.v1+json"
    )
    layer_type = (
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
        if docker
        else "application/vnd.oci.image.layer.v1.tar"
    )
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": layer_type, "digest": d, "size": s} for d, s in layers],
    }
    return json.dumps(document, indent=3).encode()


def index_body(children: list[tuple[str, int]], media_type: str = OCI_INDEX) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": d,
                "size": s,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
            for d, s in children
        ],
    }
    return json.dumps(document).encode()


async def start_registry(root: Path, users: Htpasswd | None) -> tuple[web.AppRunner, int]:
    state = RegistryState.open(root, users, "Test Realm")
    # A refused request's unread body is drained for up to lingering_time; a client that
    # stopped sending would hold up the test's shutdown for aiohttp's default 10 s.
    runner = web.AppRunner(create_app(state), lingering_time=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    runner, port = await start_registry(tmp_path / "registry", None)
    async with aiohttp.ClientSession() as session:
        yield Registry(tmp_path / "registry", "127.0.0.1", port, session)
    await runner.cleanup()


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    # htpasswd -B writes the $2y$ prefix; bcrypt writes $2b$: the same algorithm.
    path = tmp_path / "htpasswd"
    path.write_text(f"# accounts\n{USER}:{hashed.replace('$2b$', '$2y$', 1)}\n")
    return path


@pytest.fixture
async def auth_registry(tmp_path: Path, htpasswd_file: Path) -> AsyncIterator[Registry]:
    runner, port = await start_registry(tmp_path / "registry", Htpasswd.load(htpasswd_file))
    async with aiohttp.ClientSession() as session:
        yield Registry(tmp_path / "registry", "127.0.0.1", port, session)
    await runner.cleanup()
