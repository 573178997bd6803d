"""Manifest push, fetch and delete against a live registry server."""

from __future__ import annotations

import json

from engine.registry_server.manifests import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tests.unit.registry_server.conftest import Registry, digest_of, index_body, manifest_body


async def test_push_and_pull_docker_manifest_by_tag_and_digest(registry: Registry) -> None:
    digest, body = await registry.push_image("lib/app", "v1")
    for reference in ("v1", digest):
        reply = await registry.request(
            "GET", f"/v2/lib/app/manifests/{reference}", headers={"Accept": DOCKER_MANIFEST}
        )
        assert reply.status == 200
        assert reply.body == body
        assert reply.headers["Content-Type"] == DOCKER_MANIFEST
        assert reply.headers["Docker-Content-Digest"] == digest
        head = await registry.request("HEAD", f"/v2/lib/app/manifests/{reference}")
        assert head.status == 200 and head.body == b""
        assert head.headers["Content-Length"] == str(len(body))
        assert head.headers["Docker-Content-Digest"] == digest


async def test_put_answers_location_and_digest(registry: Registry) -> None:
    config = await registry.push_blob("app", b"{}")
    body = manifest_body(OCI_MANIFEST, (config, 2), [])
    reply = await registry.request(
        "PUT", "/v2/app/manifests/latest", body, {"Content-Type": OCI_MANIFEST}
    )
    assert reply.status == 201
    assert reply.headers["Docker-Content-Digest"] == digest_of(body)
    assert reply.headers["Location"] == f"/v2/app/manifests/{digest_of(body)}"


async def test_oci_manifest_and_index(registry: Registry) -> None:
    digest, body = await registry.push_image("app", "amd64", media_type=OCI_MANIFEST)
    index = index_body([(digest, len(body))])
    reply = await registry.request(
        "PUT", "/v2/app/manifests/multi", index, {"Content-Type": OCI_INDEX}
    )
    assert reply.status == 201
    got = await registry.request("GET", "/v2/app/manifests/multi")
    assert got.body == index and got.headers["Content-Type"] == OCI_INDEX


async def test_docker_manifest_list(registry: Registry) -> None:
    digest, body = await registry.push_image("app", "amd64")
    document = json.loads(index_body([(digest, len(body))], DOCKER_LIST))
    document["manifests"][0]["mediaType"] = DOCKER_MANIFEST
    listing = json.dumps(document).encode()
    reply = await registry.request(
        "PUT", "/v2/app/manifests/multi", listing, {"Content-Type": DOCKER_LIST}
    )
    assert reply.status == 201
    got = await registry.request("GET", "/v2/app/manifests/multi")
    assert got.headers["Content-Type"] == DOCKER_LIST


async def test_manifest_with_unknown_blob_is_refused(registry: Registry) -> None:
    config = await registry.push_blob("app", b"{}")
    missing = digest_of(b"never pushed")
    body = manifest_body(DOCKER_MANIFEST, (config, 2), [(missing, 12)])
    reply = await registry.request(
        "PUT", "/v2/app/manifests/v1", body, {"Content-Type": DOCKER_MANIFEST}
    )
    assert reply.status == 400
    assert reply.error_code == "MANIFEST_BLOB_UNKNOWN"
    assert reply.json()["errors"][0]["detail"] == missing
    assert (await registry.request("GET", "/v2/app/manifests/v1")).status == 404
    # Nothing of the refused manifest was stored.
    stored = {p.name for p in (registry.root / "blobs" / "sha256").iterdir()}
    assert digest_of(body).removeprefix("sha256:") not in stored


async def test_blob_of_another_repository_does_not_count(registry: Registry) -> None:
    digest, body = await registry.push_image("one", "v1")
    reply = await registry.request(
        "PUT", "/v2/two/manifests/v1", body, {"Content-Type": DOCKER_MANIFEST}
    )
    assert reply.status == 400 and reply.error_code == "MANIFEST_BLOB_UNKNOWN"
    index = index_body([(digest, len(body))])
    child = await registry.request(
        "PUT", "/v2/two/manifests/multi", index, {"Content-Type": OCI_INDEX}
    )
    assert child.status == 400 and child.error_code == "MANIFEST_BLOB_UNKNOWN"


async def test_invalid_manifests(registry: Registry) -> None:
    config = await registry.push_blob("app", b"{}")
    valid = json.loads(manifest_body(DOCKER_MANIFEST, (config, 2), []))
    cases = [
        (b"not json", DOCKER_MANIFEST),
        (b"[]", DOCKER_MANIFEST),
        (json.dumps({**valid, "schemaVersion": 1}).encode(), DOCKER_MANIFEST),
        (json.dumps({**valid, "config": {"digest": config}}).encode(), DOCKER_MANIFEST),
        (json.dumps({**valid, "layers": "nope"}).encode(), DOCKER_MANIFEST),
        (json.dumps(valid).encode(), OCI_MANIFEST),  # body says Docker, header says OCI
        (
            json.dumps({**valid, "mediaType": "application/vnd.example+json"}).encode(),
            "application/json",
        ),
    ]
    for body, content_type in cases:
        reply = await registry.request(
            "PUT", "/v2/app/manifests/bad", body, {"Content-Type": content_type}
        )
        assert reply.status == 400, body
        assert reply.error_code == "MANIFEST_INVALID", body


async def test_manifest_size_limit(registry: Registry) -> None:
    config = await registry.push_blob("app", b"{}")
    document = json.loads(manifest_body(DOCKER_MANIFEST, (config, 2), []))
    document["annotations"] = {"padding": "x" * (4 << 20)}
    reply = await registry.request(
        "PUT",
        "/v2/app/manifests/big",
        json.dumps(document).encode(),
        {"Content-Type": DOCKER_MANIFEST},
    )
    assert reply.status == 400 and reply.error_code == "MANIFEST_INVALID"


async def test_put_by_digest_must_match(registry: Registry) -> None:
    config = await registry.push_blob("app", b"{}")
    body = manifest_body(DOCKER_MANIFEST, (config, 2), [])
    wrong = await registry.request(
        "PUT", f"/v2/app/manifests/{digest_of(b'x')}", body, {"Content-Type": DOCKER_MANIFEST}
    )
    assert wrong.status == 400 and wrong.error_code == "DIGEST_INVALID"
    right = await registry.request(
        "PUT", f"/v2/app/manifests/{digest_of(body)}", body, {"Content-Type": DOCKER_MANIFEST}
    )
    assert right.status == 201
    tags = await registry.request("GET", "/v2/app/tags/list")
    assert tags.json() == {"name": "app", "tags": []}


async def test_unknown_manifest_and_repository(registry: Registry) -> None:
    await registry.push_image("app", "v1")
    missing = await registry.request("GET", "/v2/app/manifests/v2")
    assert missing.status == 404 and missing.error_code == "MANIFEST_UNKNOWN"
    no_repo = await registry.request("GET", "/v2/nope/manifests/v1")
    assert no_repo.status == 404 and no_repo.error_code == "NAME_UNKNOWN"
    bad_tag = await registry.request("GET", "/v2/app/manifests/-bad")
    assert bad_tag.status == 400 and bad_tag.error_code == "TAG_INVALID"


async def test_delete_by_tag_and_by_digest(registry: Registry) -> None:
    digest, _ = await registry.push_image("app", "v1")
    await registry.push_image("app", "v2")  # the same image: same digest, second tag
    await registry.push_image("app", "other", layer=b"other layer")

    assert (await registry.request("DELETE", "/v2/app/manifests/other")).status == 202
    assert (await registry.request("GET", "/v2/app/manifests/other")).status == 404

    assert (await registry.request("DELETE", f"/v2/app/manifests/{digest}")).status == 202
    for reference in ("v1", "v2", digest):
        assert (await registry.request("GET", f"/v2/app/manifests/{reference}")).status == 404
    assert (await registry.request("GET", "/v2/app/tags/list")).json()["tags"] == []
    again = await registry.request("DELETE", f"/v2/app/manifests/{digest}")
    assert again.status == 404 and again.error_code == "MANIFEST_UNKNOWN"


async def test_index_survives_a_restart(registry: Registry) -> None:
    from engine.registry_server.repository import Repositories

    digest, _ = await registry.push_image("lib/app", "v1")
    index = await Repositories(registry.root / "repositories").get("lib/app")
    assert index is not None
    assert index.tags == {"v1": digest}
    assert index.manifests == {digest: DOCKER_MANIFEST}
    assert len(index.blobs) == 2
