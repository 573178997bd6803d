"""Blob fetches and the upload protocol against a live registry server."""

from __future__ import annotations

import asyncio
import os

from tests.unit.registry_server.conftest import Registry, digest_of

DATA = os.urandom(3000)
DIGEST = digest_of(DATA)


def _store_files(registry: Registry) -> tuple[list[str], list[str]]:
    blobs = sorted(p.name for p in (registry.root / "blobs" / "sha256").iterdir())
    ingest = sorted(p.name for p in (registry.root / "ingest").iterdir())
    return blobs, ingest


async def test_base_endpoint(registry: Registry) -> None:
    reply = await registry.request("GET", "/v2/")
    assert reply.status == 200
    assert reply.json() == {}
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_monolithic_post_then_head_and_get(registry: Registry) -> None:
    reply = await registry.request("POST", f"/v2/lib/app/blobs/uploads/?digest={DIGEST}", DATA)
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/lib/app/blobs/{DIGEST}"
    assert reply.headers["Docker-Content-Digest"] == DIGEST

    head = await registry.request("HEAD", f"/v2/lib/app/blobs/{DIGEST}")
    assert head.status == 200
    assert head.headers["Content-Length"] == str(len(DATA))
    assert head.headers["Docker-Content-Digest"] == DIGEST
    assert head.body == b""

    get = await registry.request("GET", f"/v2/lib/app/blobs/{DIGEST}")
    assert get.status == 200 and get.body == DATA
    assert get.headers["Content-Type"] == "application/octet-stream"


async def test_range_get(registry: Registry) -> None:
    await registry.push_blob("app", DATA)
    reply = await registry.request(
        "GET", f"/v2/app/blobs/{DIGEST}", headers={"Range": "bytes=10-19"}
    )
    assert reply.status == 206
    assert reply.body == DATA[10:20]
    assert reply.headers["Content-Range"] == f"bytes 10-19/{len(DATA)}"
    past_end = await registry.request(
        "GET", f"/v2/app/blobs/{DIGEST}", headers={"Range": f"bytes={len(DATA) + 5}-"}
    )
    assert past_end.status == 416


async def test_blob_is_only_visible_in_repositories_it_was_pushed_to(registry: Registry) -> None:
    await registry.push_blob("one", DATA)
    reply = await registry.request("HEAD", f"/v2/two/blobs/{DIGEST}")
    assert reply.status == 404
    get = await registry.request("GET", f"/v2/two/blobs/{DIGEST}")
    assert get.status == 404 and get.error_code == "BLOB_UNKNOWN"
    assert get.json()["errors"][0]["message"] == "blob unknown to registry"


async def test_chunked_upload_with_status_and_final_put(registry: Registry) -> None:
    start = await registry.request("POST", "/v2/app/blobs/uploads/")
    assert start.status == 202
    location = start.headers["Location"]
    uuid = start.headers["Docker-Upload-UUID"]
    assert location == f"/v2/app/blobs/uploads/{uuid}"
    assert start.headers["Range"] == "0-0"

    first = await registry.request(
        "PATCH",
        location,
        DATA[:1000],
        {"Content-Range": "0-999", "Content-Type": "application/octet-stream"},
    )
    assert first.status == 202 and first.headers["Range"] == "0-999"
    # A streamed chunk without Content-Range is appended too (how docker pushes).
    second = await registry.request("PATCH", location, DATA[1000:2000])
    assert second.status == 202 and second.headers["Range"] == "0-1999"

    status = await registry.request("GET", location)
    assert status.status == 204
    assert status.headers["Range"] == "0-1999"
    assert status.headers["Docker-Upload-UUID"] == uuid

    done = await registry.request("PUT", f"{location}?digest={DIGEST}", DATA[2000:])
    assert done.status == 201
    assert done.headers["Docker-Content-Digest"] == DIGEST
    assert (await registry.request("GET", f"/v2/app/blobs/{DIGEST}")).body == DATA
    assert (await registry.request("GET", location)).status == 404
    assert _store_files(registry) == ([DIGEST.removeprefix("sha256:")], [])


async def test_patch_at_wrong_offset_is_416(registry: Registry) -> None:
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    await registry.request("PATCH", location, DATA[:100], {"Content-Range": "0-99"})
    reply = await registry.request("PATCH", location, DATA[200:300], {"Content-Range": "200-299"})
    assert reply.status == 416
    assert reply.error_code == "RANGE_INVALID"
    assert reply.headers["Range"] == "0-99"
    garbled = await registry.request("PATCH", location, b"x", {"Content-Range": "bytes=a-b"})
    assert garbled.status == 416
    # The upload is still usable from where it really is.
    again = await registry.request("PATCH", location, DATA[100:], {"Content-Range": "100-2999"})
    assert again.status == 202
    done = await registry.request("PUT", f"{location}?digest={DIGEST}")
    assert done.status == 201


async def test_patch_length_must_match_range(registry: Registry) -> None:
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    reply = await registry.request("PATCH", location, DATA[:10], {"Content-Range": "0-99"})
    assert reply.status == 400 and reply.error_code == "SIZE_INVALID"


async def test_digest_mismatch_stores_nothing(registry: Registry) -> None:
    wrong = digest_of(b"something else")
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    await registry.request("PATCH", location, DATA)
    reply = await registry.request("PUT", f"{location}?digest={wrong}")
    assert reply.status == 400
    assert reply.error_code == "DIGEST_INVALID"
    assert reply.json()["errors"][0]["message"] == "provided digest did not match uploaded content"
    assert _store_files(registry) == ([], [])
    assert (await registry.request("HEAD", f"/v2/app/blobs/{wrong}")).status == 404
    assert (await registry.request("HEAD", f"/v2/app/blobs/{DIGEST}")).status == 404
    # The failed upload is gone.
    assert (await registry.request("GET", location)).status == 404

    mono = await registry.request("POST", f"/v2/app/blobs/uploads/?digest={wrong}", DATA)
    assert mono.status == 400 and mono.error_code == "DIGEST_INVALID"
    assert _store_files(registry) == ([], [])


async def test_put_without_or_with_bad_digest_keeps_upload(registry: Registry) -> None:
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    await registry.request("PATCH", location, DATA)
    missing = await registry.request("PUT", location)
    assert missing.status == 400 and missing.error_code == "DIGEST_INVALID"
    bad = await registry.request("PUT", f"{location}?digest=sha256:xyz")
    assert bad.status == 400 and bad.error_code == "DIGEST_INVALID"
    other_algorithm = await registry.request("PUT", f"{location}?digest=sha512:{'a' * 128}")
    assert other_algorithm.status == 400
    assert (await registry.request("PUT", f"{location}?digest={DIGEST}")).status == 201


async def test_cancel_upload(registry: Registry) -> None:
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    await registry.request("PATCH", location, DATA)
    assert len(_store_files(registry)[1]) == 1
    assert (await registry.request("DELETE", location)).status == 204
    assert _store_files(registry) == ([], [])
    gone = await registry.request("PATCH", location, DATA)
    assert gone.status == 404 and gone.error_code == "BLOB_UPLOAD_UNKNOWN"
    assert (await registry.request("DELETE", location)).status == 404


async def test_upload_belongs_to_its_repository(registry: Registry) -> None:
    start = await registry.request("POST", "/v2/app/blobs/uploads/")
    uuid = start.headers["Docker-Upload-UUID"]
    reply = await registry.request("PATCH", f"/v2/other/blobs/uploads/{uuid}", DATA)
    assert reply.status == 404 and reply.error_code == "BLOB_UPLOAD_UNKNOWN"
    unknown = await registry.request("GET", "/v2/app/blobs/uploads/not-an-upload")
    assert unknown.status == 404 and unknown.error_code == "BLOB_UPLOAD_UNKNOWN"


async def test_cross_repository_mount(registry: Registry) -> None:
    await registry.push_blob("source", DATA)
    reply = await registry.request("POST", f"/v2/target/blobs/uploads/?mount={DIGEST}&from=source")
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/target/blobs/{DIGEST}"
    assert reply.headers["Docker-Content-Digest"] == DIGEST
    assert (await registry.request("GET", f"/v2/target/blobs/{DIGEST}")).body == DATA


async def test_mount_of_unknown_blob_starts_an_upload(registry: Registry) -> None:
    await registry.push_blob("source", DATA)
    for query in (
        f"mount={digest_of(b'nope')}&from=source",
        f"mount={DIGEST}&from=elsewhere",
        f"mount={DIGEST}&from=../source",
        "mount=garbage&from=source",
    ):
        reply = await registry.request("POST", f"/v2/target/blobs/uploads/?{query}")
        assert reply.status == 202, query
        assert "Docker-Upload-UUID" in reply.headers
    assert (await registry.request("HEAD", f"/v2/target/blobs/{DIGEST}")).status == 404


async def test_delete_blob_unlinks_it_from_the_repository(registry: Registry) -> None:
    await registry.push_blob("one", DATA)
    await registry.push_blob("two", DATA)
    assert (await registry.request("DELETE", f"/v2/one/blobs/{DIGEST}")).status == 202
    assert (await registry.request("HEAD", f"/v2/one/blobs/{DIGEST}")).status == 404
    assert (await registry.request("HEAD", f"/v2/two/blobs/{DIGEST}")).status == 200
    again = await registry.request("DELETE", f"/v2/one/blobs/{DIGEST}")
    assert again.status == 404 and again.error_code == "BLOB_UNKNOWN"
    nowhere = await registry.request("DELETE", f"/v2/never/blobs/{DIGEST}")
    assert nowhere.status == 404
    assert not (registry.root / "repositories" / "never").exists()


async def test_concurrent_pushes_of_the_same_blob_both_succeed(registry: Registry) -> None:
    data = os.urandom(3 << 20)
    digest = digest_of(data)

    async def push(name: str) -> int:
        location = (await registry.request("POST", f"/v2/{name}/blobs/uploads/")).headers[
            "Location"
        ]
        half = len(data) // 2
        await registry.request("PATCH", location, data[:half])
        await registry.request("PATCH", location, data[half:])
        return (await registry.request("PUT", f"{location}?digest={digest}")).status

    assert await asyncio.gather(push("a"), push("b"), push("a")) == [201, 201, 201]
    for name in ("a", "b"):
        assert (await registry.request("GET", f"/v2/{name}/blobs/{digest}")).body == data
    assert _store_files(registry) == ([digest.removeprefix("sha256:")], [])


async def test_method_not_allowed(registry: Registry) -> None:
    reply = await registry.request("POST", f"/v2/app/blobs/{DIGEST}")
    assert reply.status == 405 and reply.error_code == "UNSUPPORTED"


async def test_client_gone_mid_chunk_leaves_no_blob(registry: Registry) -> None:
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    _, writer = await asyncio.open_connection(registry.host, registry.port)
    head = f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(DATA)}\r\n\r\n"
    writer.write(head.encode() + DATA[:100])
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.2)
    assert (await registry.request("HEAD", f"/v2/app/blobs/{DIGEST}")).status == 404
    # The upload is still there; the client may ask where it stands and go on.
    status = await registry.request("GET", location)
    assert status.status == 204
    assert _store_files(registry)[0] == []
