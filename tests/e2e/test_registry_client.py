"""The registry client against Debian's real ``docker-registry`` (distribution 2.x) on loopback,
with htpasswd Basic auth: push a small image, read it back, list it, refuse a bad password."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import orjson
import pytest

from engine.errors import InvalidParameter, NotFound, Unauthorized
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.download import download_blob
from engine.registry.endpoints import lookup_endpoints
from engine.registry.manifests import ImageManifest, parse_manifest
from tests.support.registry import HTPASSWD, REGISTRY, docker_registry

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not REGISTRY.exists(), reason="docker-registry is not installed (/usr/bin/docker-registry)"
    ),
    pytest.mark.skipif(HTPASSWD is None, reason="htpasswd is not installed (apache2-utils)"),
]


USER, PASSWORD = "tester", "s3cret-pass"


@dataclass
class Registry:
    address: str
    user: str = USER
    password: str = PASSWORD


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry")
    with docker_registry(root, (USER, PASSWORD)) as address:
        yield Registry(address=address)


def _client(registry: Registry, password: str | None = None) -> RegistryClient:
    # 127.0.0.1 is insecure by default: HTTPS without checks first, then plain HTTP.
    endpoint = lookup_endpoints(registry.address)[-1]
    assert endpoint.scheme == "http"
    credentials = Credentials(registry.user, password or registry.password)
    return RegistryClient(endpoint, credentials, user_agent="doca-e2e")


def _layer() -> tuple[bytes, bytes]:
    """(gzip layer, uncompressed tar) holding one small file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = b"hello from doca\n"
        info = tarfile.TarInfo("etc/greeting")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return gzip.compress(raw, mtime=0), raw


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


async def test_push_and_pull_a_small_image(registry: Registry) -> None:
    layer, diff = _layer()
    config = orjson.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(diff)]},
        }
    )
    manifest = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST,
            "config": {
                "mediaType": mediatypes.DOCKER_CONFIG,
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mediatypes.DOCKER_LAYER,
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    )
    async with _client(registry) as client:
        assert await client.ping() == ""
        assert await client.blob_exists("doca/small", _digest(layer)) is None
        await client.upload_blob("doca/small", _digest(config), len(config), _chunks(config))
        # Force the PATCH path for the layer by making everything "large".
        client.monolithic_limit = 0
        client.chunk_size = 50
        await client.upload_blob("doca/small", _digest(layer), len(layer), _chunks(layer))
        assert await client.blob_exists("doca/small", _digest(layer)) == len(layer)
        pushed = await client.put_manifest("doca/small", "v1", mediatypes.DOCKER_MANIFEST, manifest)
        assert pushed == _digest(manifest)
        await client.put_manifest("doca/small", "v2", mediatypes.DOCKER_MANIFEST, manifest)

        # A cross-repository mount of a blob the user can read.
        assert await client.mount_blob("doca/other", _digest(layer), "doca/small") is True
        with pytest.raises(InvalidParameter, match="manifest blob unknown"):
            # The config blob is not in doca/other yet: the registry refuses the manifest.
            await client.put_manifest("doca/other", "latest", mediatypes.DOCKER_MANIFEST, manifest)
        assert await client.mount_blob("doca/other", _digest(config), "doca/small") is True
        # A blob the source repository does not have: the registry offers an upload instead.
        assert await client.mount_blob("doca/other", _digest(b"absent"), "doca/small") is False
        await client.put_manifest("doca/other", "latest", mediatypes.DOCKER_MANIFEST, manifest)

        media_type, digest, raw = await client.get_manifest("doca/small", "v1")
        assert (media_type, digest, raw) == (mediatypes.DOCKER_MANIFEST, pushed, manifest)
        assert (await client.get_manifest("doca/small", pushed))[2] == manifest
        head = await client.head_manifest("doca/small", "v1")
        assert head is not None and head.digest == pushed and head.size == len(manifest)

        parsed = parse_manifest(raw, media_type)
        assert isinstance(parsed, ImageManifest)
        out = io.BytesIO()
        await download_blob(client, "doca/small", parsed.layers[0].digest, out, len(layer))
        assert gzip.decompress(out.getvalue()) == diff
        config_out = io.BytesIO()
        await download_blob(client, "doca/small", parsed.config.digest, config_out)
        assert config_out.getvalue() == config
        # Resume from the middle of the layer with a Range request.
        partial = io.BytesIO(layer[:100])
        await download_blob(client, "doca/small", _digest(layer), partial, resume=True)
        assert partial.getvalue() == layer

        assert sorted(await client.list_tags("doca/small")) == ["v1", "v2"]
        assert {"doca/small", "doca/other"} <= set(await client.catalog())

        with pytest.raises(NotFound) as caught:
            await client.get_manifest("doca/small", "nope")
        assert caught.value.message == (
            f"manifest for {registry.address}/doca/small:nope not found: "
            "manifest unknown: manifest unknown"
        )


async def test_wrong_password_is_unauthorized(registry: Registry) -> None:
    async with _client(registry, password="wrong") as client:
        with pytest.raises(Unauthorized) as caught:
            await client.ping()
        assert caught.value.message == (
            f"login attempt to http://{registry.address}/v2/ failed with status: 401 Unauthorized"
        )
        with pytest.raises(Unauthorized):
            await client.list_tags("doca/small")
