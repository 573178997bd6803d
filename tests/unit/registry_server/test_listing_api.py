"""Catalog and tag listings with n/last pagination."""

from __future__ import annotations

import pytest

from engine.registry_server.errors import RegistryError
from engine.registry_server.listing_api import page_size, paginate
from tests.unit.registry_server.conftest import Registry


def test_paginate() -> None:
    items = ["a", "b", "c", "d"]
    assert paginate(items, None, None) == (items, False)
    assert paginate(items, 2, None) == (["a", "b"], True)
    assert paginate(items, 2, "b") == (["c", "d"], False)
    assert paginate(items, 2, "bb") == (["c", "d"], False)
    assert paginate(items, 0, None) == ([], True)
    assert paginate(items, 5, "d") == ([], False)


def test_page_size() -> None:
    assert page_size(None, 100) == 100
    assert page_size("7", None) == 7
    for bad in ("-1", "x", "1e3", "100000"):
        with pytest.raises(RegistryError) as caught:
            page_size(bad, None)
        assert caught.value.code.code == "PAGINATION_NUMBER_INVALID"


async def test_catalog_pages_follow_link_headers(registry: Registry) -> None:
    names = ["a", "b/c", "b/d", "e-f", "z"]
    for name in names:
        await registry.push_blob(name, name.encode())
    everything = await registry.request("GET", "/v2/_catalog")
    assert everything.json() == {"repositories": sorted(names)}
    assert "Link" not in everything.headers

    seen: list[str] = []
    path = "/v2/_catalog?n=2"
    while True:
        reply = await registry.request("GET", path)
        assert reply.status == 200
        seen += reply.json()["repositories"]
        link = reply.headers.get("Link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        path = link[1 : link.index(">")]
    assert seen == sorted(names)


async def test_tags_list_and_pagination(registry: Registry) -> None:
    for tag in ("v2", "latest", "v1"):
        await registry.push_image("lib/app", tag)
    reply = await registry.request("GET", "/v2/lib/app/tags/list")
    assert reply.json() == {"name": "lib/app", "tags": ["latest", "v1", "v2"]}
    first = await registry.request("GET", "/v2/lib/app/tags/list?n=2")
    assert first.json()["tags"] == ["latest", "v1"]
    assert first.headers["Link"] == '</v2/lib/app/tags/list?last=v1&n=2>; rel="next"'
    second = await registry.request("GET", "/v2/lib/app/tags/list?n=2&last=v1")
    assert second.json()["tags"] == ["v2"] and "Link" not in second.headers


async def test_listing_errors(registry: Registry) -> None:
    unknown = await registry.request("GET", "/v2/nothing/tags/list")
    assert unknown.status == 404 and unknown.error_code == "NAME_UNKNOWN"
    bad_n = await registry.request("GET", "/v2/_catalog?n=-3")
    assert bad_n.status == 400 and bad_n.error_code == "PAGINATION_NUMBER_INVALID"
