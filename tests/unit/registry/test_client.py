"""RegistryClient against an in-process fake registry on loopback."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from urllib.parse import unquote

import orjson
import pytest
from aiohttp import web

from engine.errors import Forbidden, InvalidParameter, NotFound, SystemError_, Unauthorized
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.download import download_blob
from engine.registry.endpoints import RegistryEndpoint
from engine.registry.manifests import ImageIndex, parse_manifest, select_platform
from tests.unit.registry.fakeregistry import FakeRegistry, Storage, digest_of, serve

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = bytes(range(256)) * 1024  # 256 KiB


def schema2(config: bytes = CONFIG, layer: bytes = LAYER) -> bytes:
    return orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST,
            "config": {
                "mediaType": mediatypes.DOCKER_CONFIG,
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mediatypes.DOCKER_LAYER,
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    )


async def stream(data: bytes, piece: int = 10_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


class Setup:
    def __init__(self, registry: FakeRegistry, port: int) -> None:
        self.registry = registry
        self.port = port
        self.endpoint = RegistryEndpoint(f"127.0.0.1:{port}", "http", insecure=True)

    def client(self, credentials: Credentials | None = None, **options: object) -> RegistryClient:
        options.setdefault("backoff", 0.01)
        return RegistryClient(self.endpoint, credentials, None, "doca-test", **options)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[Setup]:
    registry = FakeRegistry()
    async with serve(registry.app()) as port:
        registry.base_url = f"http://127.0.0.1:{port}"
        yield Setup(registry, port)


async def test_ping_without_auth(fake: Setup) -> None:
    async with fake.client() as client:
        assert await client.ping() == ""


async def test_bearer_challenge_token_and_retry(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    manifest = schema2()
    digest = fake.registry.put_manifest("team/app", "v1", mediatypes.DOCKER_MANIFEST, manifest)
    async with fake.client(Credentials("alice", "secret")) as client:
        media_type, got_digest, raw = await client.get_manifest("team/app", "v1")
        assert (media_type, got_digest, raw) == (mediatypes.DOCKER_MANIFEST, digest, manifest)
        # Token cache: a second request with the same scope needs no new token.
        await client.get_manifest("team/app", digest)
    assert len(fake.registry.token_requests) == 1
    params = fake.registry.token_requests[0]
    assert params["scope"] == "repository:team/app:pull"
    assert params["service"] == "fake-registry"
    assert params["account"] == "alice"
    methods = [
        (m, auth is not None) for m, path, auth in fake.registry.requests if path != "/token"
    ]
    # First GET goes anonymous, gets 401, then the retry and the second GET carry the token.
    assert methods[:3] == [("GET", False), ("GET", True), ("GET", True)]


async def test_bearer_anonymous_pull_sends_no_basic_credentials(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    fake.registry.put_manifest("pub", "latest", mediatypes.DOCKER_MANIFEST, schema2())
    async with fake.client() as client:
        await client.get_manifest("pub", "latest")
    assert fake.registry.token_auth_headers == [None]


async def test_new_scope_fetches_a_new_token(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    fake.registry.put_manifest("a", "latest", mediatypes.DOCKER_MANIFEST, schema2())
    fake.registry.put_manifest("b", "latest", mediatypes.DOCKER_MANIFEST, schema2())
    async with fake.client() as client:
        await client.get_manifest("a", "latest")
        await client.get_manifest("b", "latest")
    assert [p["scope"] for p in fake.registry.token_requests] == [
        "repository:a:pull",
        "repository:b:pull",
    ]
    # Once the challenge is known, the client asks for b's token before sending the request.
    paths = [path for _, path, _ in fake.registry.requests]
    assert paths.count("/v2/b/manifests/latest") == 1


async def test_expired_token_is_replaced_after_401(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    fake.registry.put_manifest("a", "latest", mediatypes.DOCKER_MANIFEST, schema2())
    async with fake.client() as client:
        await client.get_manifest("a", "latest")
        fake.registry.tokens.clear()  # the registry revokes every token
        await client.get_manifest("a", "latest")
    assert len(fake.registry.token_requests) == 2


async def test_ping_with_wrong_bearer_credentials(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    async with fake.client(Credentials("alice", "wrong")) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.ping()
    assert caught.value.message == (
        f'Get "http://127.0.0.1:{fake.port}/v2/": unauthorized: incorrect username or password'
    )


async def test_ping_returns_identity_token_and_reuses_it(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    async with fake.client(Credentials("alice", "secret")) as client:
        assert await client.ping() == "refresh-1"
    async with fake.client(Credentials(identity_token="refresh-1")) as client:
        assert await client.ping() == "refresh-1"
    assert fake.registry.token_requests[-1]["grant_type"] == "refresh_token"
    async with fake.client(Credentials(identity_token="stale")) as client:
        with pytest.raises(Unauthorized, match="invalid refresh token"):
            await client.ping()


async def test_basic_auth(fake: Setup) -> None:
    fake.registry.auth = "basic"
    async with fake.client(Credentials("alice", "secret")) as client:
        assert await client.ping() == ""
        assert await client.catalog() == []
    async with fake.client(Credentials("alice", "wrong")) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.ping()
    assert caught.value.message == (
        f"login attempt to http://127.0.0.1:{fake.port}/v2/ failed with status: 401 Unauthorized"
    )
    async with fake.client() as client:
        with pytest.raises(Unauthorized):
            await client.ping()


async def test_registry_token_is_sent_as_bearer(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    fake.registry.tokens.add("preissued")
    async with fake.client(Credentials(registry_token="preissued")) as client:
        await client.ping()
    assert fake.registry.requests[0][2] == "Bearer preissued"
    assert fake.registry.token_requests == []


async def test_manifest_digest_mismatch_is_refused(fake: Setup) -> None:
    digest = fake.registry.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    fake.registry.manifest_override = schema2(config=b"{}")  # served bytes differ
    async with fake.client() as client:
        with pytest.raises(InvalidParameter, match="digest mismatch"):
            await client.get_manifest("x", digest)


async def test_wrong_docker_content_digest_header_is_refused(fake: Setup) -> None:
    fake.registry.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    fake.registry.wrong_manifest_digest = True
    async with fake.client() as client:
        with pytest.raises(InvalidParameter, match="digest mismatch"):
            await client.get_manifest("x", "v1")


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"<html>oops</html>", "not valid JSON"), (b" " * (5 * 1024 * 1024), "too large")],
)
async def test_hostile_manifest_bodies(fake: Setup, body: bytes, message: str) -> None:
    fake.registry.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    fake.registry.manifest_override = body
    async with fake.client() as client:
        with pytest.raises(InvalidParameter, match=message):
            await client.get_manifest("x", "v1")


@pytest.mark.parametrize("ref", ["../../etc", "sha256:xyz", "a b", "-tag", "x" * 200])
async def test_bad_references_never_reach_the_registry(fake: Setup, ref: str) -> None:
    async with fake.client() as client:
        with pytest.raises(InvalidParameter):
            await client.get_manifest("x", ref)
        with pytest.raises(InvalidParameter):
            await client.get_manifest("UPPER/case", "latest")
        with pytest.raises(InvalidParameter):
            await client.blob_exists("x", ref)
    assert fake.registry.requests == []


async def test_platform_selection_from_an_index(fake: Setup) -> None:
    amd64 = schema2()
    amd64_digest = fake.registry.put_manifest("multi", "amd64", mediatypes.DOCKER_MANIFEST, amd64)
    index = orjson.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "digest": "sha256:" + "3" * 64,
                    "size": 10,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                },
                {
                    "mediaType": mediatypes.DOCKER_MANIFEST,
                    "digest": amd64_digest,
                    "size": len(amd64),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
            ],
        }
    )
    fake.registry.put_manifest("multi", "latest", mediatypes.OCI_INDEX, index)
    async with fake.client() as client:
        media_type, _, raw = await client.get_manifest("multi", "latest")
        parsed = parse_manifest(raw, media_type)
        assert isinstance(parsed, ImageIndex)
        chosen = select_platform(parsed)
        assert chosen.digest == amd64_digest
        assert (await client.get_manifest("multi", chosen.digest))[2] == amd64
        head = await client.head_manifest("multi", "latest")
        assert head is not None and head.media_type == mediatypes.OCI_INDEX
        assert head.size == len(index)
        assert await client.head_manifest("multi", "nope") is None


async def test_pull_error_wording(fake: Setup) -> None:
    fake.registry.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    async with fake.client() as client:
        with pytest.raises(NotFound) as caught:
            await client.get_manifest("x", "nope")
        assert caught.value.message == (
            f"manifest for 127.0.0.1:{fake.port}/x:nope not found: "
            "manifest unknown: manifest unknown"
        )
        unknown = r"repository 127\.0\.0\.1:\d+/other not found: name unknown"
        with pytest.raises(NotFound, match=unknown):
            await client.get_manifest("other", "latest")


async def test_pull_access_denied_wording(fake: Setup) -> None:
    async def denied(request: web.Request) -> web.Response:
        # What Docker Hub does for a repository the token does not cover.
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            status=401,
            headers={
                "WWW-Authenticate": f'Bearer realm="{fake.registry.base_url}/token",'
                'error="insufficient_scope"'
            },
        )

    app = web.Application()
    app.router.add_get("/v2/{repo:.+}/manifests/{ref}", denied)
    async with serve(app) as port:
        endpoint = RegistryEndpoint(f"127.0.0.1:{port}", "http", True, domain="docker.io")
        async with RegistryClient(endpoint) as client:
            with pytest.raises(NotFound) as caught:
                await client.get_manifest("library/nosuch", "latest")
    assert caught.value.message == (
        "pull access denied for nosuch, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied"
    )


async def test_revoked_registry_token_is_not_retried(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    fake.registry.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    async with fake.client(Credentials(registry_token="revoked")) as client:
        with pytest.raises(Unauthorized, match="unauthorized: authentication required"):
            await client.get_manifest("x", "v1")
    assert len(fake.registry.requests) == 1


async def test_blob_download_and_digest_check(fake: Setup) -> None:
    digest = fake.registry.put_blob("x", LAYER)
    async with fake.client() as client:
        assert await client.blob_exists("x", digest) == len(LAYER)
        assert await client.blob_exists("x", "sha256:" + "9" * 64) is None
        out = io.BytesIO()
        assert await download_blob(client, "x", digest, out, size=len(LAYER)) == len(LAYER)
        assert out.getvalue() == LAYER
        # The registry serves other bytes under the digest: refused.
        fake.registry.blobs[digest] = LAYER[:-1] + b"\x00"
        with pytest.raises(InvalidParameter, match="digest mismatch"):
            await download_blob(client, "x", digest, io.BytesIO())
        with pytest.raises(NotFound, match="blob unknown"):
            await download_blob(client, "x", "sha256:" + "9" * 64, io.BytesIO())


async def test_resume_after_connection_reset_mid_blob(fake: Setup) -> None:
    digest = fake.registry.put_blob("x", LAYER)
    fake.registry.reset_blob_after = 100_000
    async with fake.client() as client:
        out = io.BytesIO()
        await download_blob(client, "x", digest, out)
    assert out.getvalue() == LAYER
    assert fake.registry.ranges[0] is None
    resumed_at = int(fake.registry.ranges[1].removeprefix("bytes=").rstrip("-"))  # type: ignore[union-attr]
    assert 0 < resumed_at <= 100_000


async def test_download_resumes_from_a_partial_file(fake: Setup) -> None:
    digest = fake.registry.put_blob("x", LAYER)
    out = io.BytesIO(LAYER[:5000])
    async with fake.client() as client:
        await download_blob(client, "x", digest, out, resume=True)
    assert out.getvalue() == LAYER
    assert fake.registry.ranges == ["bytes=5000-"]


async def test_blob_retries_5xx_with_a_bound(fake: Setup) -> None:
    digest = fake.registry.put_blob("x", LAYER)
    fake.registry.fail_blob_503 = 2
    async with fake.client(retries=3) as client:
        assert b"".join([c async for c in client.fetch_blob("x", digest)]) == LAYER
    fake.registry.fail_blob_503 = 10
    async with fake.client(retries=2) as client:
        with pytest.raises(SystemError_, match="failed after 0 bytes"):
            _ = [c async for c in client.fetch_blob("x", digest)]
    assert fake.registry.fail_blob_503 == 7  # three tries, then it gave up


async def test_redirect_to_storage_strips_authorization(fake: Setup) -> None:
    fake.registry.auth = "basic"
    digest = fake.registry.put_blob("x", LAYER)
    storage = Storage({digest: LAYER})
    async with serve(storage.app()) as port:
        # "localhost" is another host than "127.0.0.1" as far as origins go.
        fake.registry.redirect_blobs_to = f"http://localhost:{port}"
        async with fake.client(Credentials("alice", "secret")) as client:
            out = io.BytesIO()
            await download_blob(client, "x", digest, out)
    assert out.getvalue() == LAYER
    assert storage.auth_headers == [None]
    assert fake.registry.requests[-1][2] is not None  # the registry itself got credentials


async def test_chunked_upload(fake: Setup) -> None:
    digest = digest_of(LAYER)
    async with fake.client(chunk_size=100_000, monolithic_limit=50_000) as client:
        await client.upload_blob("up", digest, len(LAYER), stream(LAYER))
    assert fake.registry.blobs[digest] == LAYER
    assert fake.registry.patches == [
        ("0-99999", 100_000),
        ("100000-199999", 100_000),
        (f"200000-{len(LAYER) - 1}", len(LAYER) - 200_000),
    ]
    final = [path for method, path, _ in fake.registry.requests if method == "PUT"]
    assert len(final) == 1 and f"digest={digest}" in unquote(final[0])


async def test_monolithic_upload_when_small(fake: Setup) -> None:
    digest = digest_of(CONFIG)
    async with fake.client() as client:
        await client.upload_blob("up", digest, len(CONFIG), stream(CONFIG, 7))
    assert fake.registry.blobs[digest] == CONFIG
    assert fake.registry.patches == []


async def test_upload_with_wrong_digest_or_size_is_cancelled(fake: Setup) -> None:
    async with fake.client(chunk_size=100_000, monolithic_limit=50_000) as client:
        with pytest.raises(InvalidParameter, match="digest mismatch"):
            await client.upload_blob("up", "sha256:" + "4" * 64, len(LAYER), stream(LAYER))
        with pytest.raises(InvalidParameter, match="size mismatch"):
            await client.upload_blob("up", digest_of(LAYER), len(LAYER) - 1, stream(LAYER))
        with pytest.raises(InvalidParameter, match="size mismatch"):
            await client.upload_blob("up", digest_of(CONFIG), len(CONFIG) + 1, stream(CONFIG))
    assert len(fake.registry.deleted_uploads) == 3
    assert fake.registry.uploads == {}


async def test_mount_and_fallback(fake: Setup) -> None:
    fake.registry.auth = "bearer"
    digest = fake.registry.put_blob("source", LAYER)
    async with fake.client(Credentials("alice", "secret")) as client:
        assert await client.mount_blob("dest", digest, "source") is True
        assert await client.blob_exists("dest", digest) == len(LAYER)
        other = digest_of(b"other")
        assert await client.mount_blob("dest2", other, "source") is False
    assert len(fake.registry.deleted_uploads) == 1
    mount_scopes = fake.registry.token_requests[0]
    assert mount_scopes["scope"] in ("repository:dest:pull,push", "repository:source:pull")


async def test_put_manifest_tags_and_catalog_pagination(fake: Setup) -> None:
    fake.registry.page_size = 2
    raw = schema2()
    async with fake.client() as client:
        for tag in ("a", "b", "c", "d", "e"):
            digest = await client.put_manifest("repo/one", tag, mediatypes.DOCKER_MANIFEST, raw)
        assert digest == digest_of(raw)
        await client.put_manifest("repo/two", "x", mediatypes.DOCKER_MANIFEST, raw)
        await client.put_manifest("zzz", "x", mediatypes.DOCKER_MANIFEST, raw)
        assert await client.list_tags("repo/one") == ["a", "b", "c", "d", "e"]
        assert await client.catalog() == ["repo/one", "repo/two", "zzz"]
        with pytest.raises(NotFound, match="name unknown"):
            await client.list_tags("absent")
        with pytest.raises(InvalidParameter):
            await client.put_manifest("repo/one", "bad", mediatypes.DOCKER_MANIFEST, b"{}")


async def test_denied_push_maps_to_forbidden(fake: Setup) -> None:
    async def deny(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "errors": [
                    {"code": "DENIED", "message": "requested access to the resource is denied"}
                ]
            },
            status=403,
        )

    app = web.Application()
    app.router.add_put("/v2/{repo:.+}/manifests/{ref}", deny)
    async with serve(app) as port:
        endpoint = RegistryEndpoint(f"127.0.0.1:{port}", "http", True)
        async with RegistryClient(endpoint) as client:
            with pytest.raises(Forbidden) as caught:
                await client.put_manifest("x", "v1", mediatypes.DOCKER_MANIFEST, schema2())
    assert caught.value.message == "denied: requested access to the resource is denied"


async def test_unreachable_registry_has_a_clear_message() -> None:
    endpoint = RegistryEndpoint("127.0.0.1:1", "http", True)
    async with RegistryClient(endpoint, connect_timeout=2) as client:
        with pytest.raises(SystemError_, match=r'^Get "http://127.0.0.1:1/v2/": '):
            await client.ping()
