"""Hostile repository names and references never reach the filesystem."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.unit.registry_server.conftest import Registry, digest_of

DIGEST = digest_of(b"data")

HOSTILE_NAMES = [
    "..",
    "../escape",
    "a/../../escape",
    "a/./b",
    "a//b",
    "%2e%2e/escape",
    "a%2Fb",
    "a%2F..%2F..%2Fescape",
    "UPPER",
    "a/.hidden",
    "_index.json",
    "a/_index.json",
    "-leading",
    "trailing-",
    "x" * 256,
    "a%00b",
    "a b",
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_names_are_name_invalid(registry: Registry, name: str) -> None:
    outside = set(os.listdir(registry.root.parent))
    before = _tree(registry.root)
    for request_line in (
        f"GET /v2/{name}/tags/list HTTP/1.1",
        f"HEAD /v2/{name}/manifests/latest HTTP/1.1",
        f"GET /v2/{name}/blobs/{DIGEST} HTTP/1.1",
        f"POST /v2/{name}/blobs/uploads/?digest={DIGEST} HTTP/1.1",
        f"PUT /v2/{name}/manifests/latest HTTP/1.1",
        f"DELETE /v2/{name}/manifests/latest HTTP/1.1",
    ):
        reply = await registry.raw(request_line, "Content-Length: 0\r\n")
        if name == "a b":
            assert reply.status == 400  # not even a valid request line
            continue
        assert reply.status == 400, request_line
        if not request_line.startswith("HEAD"):
            assert json.loads(reply.body)["errors"][0]["code"] == "NAME_INVALID"
    assert _tree(registry.root) == before
    assert set(os.listdir(registry.root.parent)) == outside


async def test_name_length_limit(registry: Registry) -> None:
    longest = "/".join(["a" * 127, "b" * 127])
    assert len(longest) == 255
    await registry.push_blob(longest, b"data")
    assert (await registry.request("HEAD", f"/v2/{longest}/blobs/{DIGEST}")).status == 200


async def test_hostile_references(registry: Registry) -> None:
    for reference in ("..%2F..%2Fetc", "sha256:..%2f..", "a%2Fb", "sha256:XYZ"):
        reply = await registry.raw(f"GET /v2/app/manifests/{reference} HTTP/1.1")
        assert reply.status == 400, reference
    blob = await registry.raw("GET /v2/app/blobs/..%2F..%2Fetc%2Fpasswd HTTP/1.1")
    assert blob.status == 400
    assert json.loads(blob.body)["errors"][0]["code"] == "DIGEST_INVALID"
    upload = await registry.raw("PATCH /v2/app/blobs/uploads/..%2F..%2Fx HTTP/1.1")
    assert upload.status == 404


async def test_paths_outside_v2_are_not_found(registry: Registry) -> None:
    for line in ("GET / HTTP/1.1", "GET /v2/../etc/passwd HTTP/1.1", "GET /v1/_catalog HTTP/1.1"):
        reply = await registry.raw(line)
        assert reply.status in (400, 404), line
    assert (await registry.raw("GET /v3/x HTTP/1.1")).status == 404
