"""Repository name, tag and digest grammar, and route parsing of raw paths."""

from __future__ import annotations

import pytest

from engine.registry_server.errors import RegistryError
from engine.registry_server.names import (
    Route,
    check_digest,
    check_name,
    check_reference,
    parse_route,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "name", ["a", "library/busybox", "a-b/c_d/e.f", "a__b", "a---b", "x1/2y/z3", "a" * 255]
)
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "a/",
        "/a",
        "a//b",
        "..",
        "a/../b",
        "a/.b",
        ".a",
        "a.",
        "a_",
        "a___b",
        "a..b",
        "a%2fb",
        "a:b",
        "a" * 256,
        "a\x00b",
        "_catalog",
        "é",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as caught:
        check_name(name)
    assert caught.value.code.code == "NAME_INVALID"


def test_references() -> None:
    assert check_reference("latest") == "latest"
    assert check_reference("v1.2_3-rc") == "v1.2_3-rc"
    assert check_reference(DIGEST) == DIGEST
    for bad, code in (
        ("-x", "TAG_INVALID"),
        ("a" * 129, "TAG_INVALID"),
        ("sha256:zz", "DIGEST_INVALID"),
    ):
        with pytest.raises(RegistryError) as caught:
            check_reference(bad)
        assert caught.value.code.code == code


def test_digests() -> None:
    assert check_digest(DIGEST) == DIGEST
    for bad in ("sha256:" + "AB" * 32, "sha256:abc", "md5:abc", "sha512:" + "a" * 128, ""):
        with pytest.raises(RegistryError):
            check_digest(bad)


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v2/", Route("base")),
        ("/v2", Route("base")),
        ("/v2/_catalog?n=1", Route("catalog")),
        ("/v2/a/b/tags/list", Route("tags", "a/b")),
        ("/v2/a/manifests/latest", Route("manifest", "a", "latest")),
        (f"/v2/a/manifests/sha256%3A{'ab' * 32}", Route("manifest", "a", DIGEST)),
        ("/v2/a/blobs/uploads/", Route("uploads", "a")),
        ("/v2/a/blobs/uploads", Route("uploads", "a")),
        ("/v2/a/blobs/uploads/u-1?digest=x", Route("upload", "a", "u-1")),
        (f"/v2/a/blobs/{DIGEST}", Route("blob", "a", DIGEST)),
        ("/v2/a/blobs/uploads/x/y", None),
        ("/", None),
        ("/v1/a/tags/list", None),
    ],
)
def test_parse_route(path: str, route: Route | None) -> None:
    assert parse_route(path) == route


def test_encoded_slash_in_name_is_refused() -> None:
    with pytest.raises(RegistryError):
        parse_route("/v2/a%2F..%2Fb/tags/list")
