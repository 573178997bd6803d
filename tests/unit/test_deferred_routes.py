"""The engine's API before its services exist: ``/_ping`` and ``/version`` answer, every other
request waits until the engine serves (or refuses) and is then routed as usual."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from engine.api.app import EngineApp
from engine.api.context import ApiContext, Routes, context
from engine.api.lazy import DeferredRoutes

WAIT = 5.0  # bound on every wait below


@pytest.fixture
async def api() -> AsyncIterator[tuple[EngineApp, TestClient[web.Request, web.Application]]]:
    engine_app = EngineApp()
    client = TestClient(TestServer(engine_app.app))
    await client.start_server()
    yield engine_app, client
    await client.close()


async def test_ping_and_version_answer_before_the_services_exist(
    api: tuple[EngineApp, TestClient[web.Request, web.Application]],
) -> None:
    _, client = api
    for method, path in (("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/v1.41/_ping")):
        response = await client.request(method, path)
        assert response.status == 200
        assert response.headers["Api-Version"] == "1.47"
    version = await client.get("/version")
    assert (await version.json())["ApiVersion"] == "1.47"
    too_new = await client.get("/v1.99/_ping")
    assert too_new.status == 400


async def test_other_requests_wait_for_serve_then_route_as_before(
    api: tuple[EngineApp, TestClient[web.Request, web.Application]],
) -> None:
    engine_app, client = api
    await asyncio.to_thread(engine_app.load_routes)
    waiting = asyncio.ensure_future(client.get("/v1.41/volumes"))
    unknown = asyncio.ensure_future(client.get("/no/such/route"))
    await asyncio.sleep(0.2)
    assert not waiting.done() and not unknown.done()

    engine_app.serve(cast(ApiContext, FakeContext()))
    async with asyncio.timeout(WAIT):
        listed, missing = await waiting, await unknown
    assert missing.status == 404
    assert await missing.json() == {"message": "page not found"}
    assert listed.status == 200  # the volumes handler, with the services given to serve
    assert await listed.json() == {"Volumes": [], "Warnings": None}
    wrong_method = await client.put("/volumes")
    assert wrong_method.status == 405
    assert await wrong_method.json() == {"message": "method not allowed"}
    assert (await client.get("/_ping")).status == 200


async def test_refuse_answers_waiting_and_later_requests_with_503(
    api: tuple[EngineApp, TestClient[web.Request, web.Application]],
) -> None:
    engine_app, client = api
    waiting = asyncio.ensure_future(client.get("/info"))
    await asyncio.sleep(0.1)
    engine_app.refuse("the engine could not start: no OCI runtime")
    async with asyncio.timeout(WAIT):
        response = await waiting
    assert response.status == 503
    assert await response.json() == {"message": "the engine could not start: no OCI runtime"}
    assert (await client.post("/containers/create")).status == 503
    assert (await client.get("/_ping")).status == 200


class Volumes:
    def list_volumes(self, filters: object) -> dict[str, object]:
        return {"Volumes": [], "Warnings": None}


class FakeContext:
    volumes = Volumes()


async def test_deferred_routes_keep_match_info_and_the_version_prefix() -> None:
    deferred = DeferredRoutes()

    async def show(request: web.Request) -> web.Response:
        return web.json_response(
            {"id": request.match_info["id"], "version": request.match_info.get("version")}
        )

    Routes(deferred.router).add("GET", "/things/{id}", show)
    app = web.Application()
    app.router.register_resource(deferred)
    async with TestClient(TestServer(app)) as client:
        pending = asyncio.ensure_future(client.get("/v1.44/things/abc"))
        await asyncio.sleep(0.1)
        assert not pending.done()
        deferred.open()
        async with asyncio.timeout(WAIT):
            response = await pending
        assert await response.json() == {"id": "abc", "version": "1.44"}
        bare = await client.get("/things/xyz")
        assert await bare.json() == {"id": "xyz", "version": None}


async def test_context_before_serve_is_unavailable() -> None:
    engine_app = EngineApp()

    async def peek(request: web.Request) -> web.Response:
        context(request)
        return web.Response()

    engine_app.app.router.add_get("/peek", peek)
    async with TestClient(TestServer(engine_app.app)) as client:
        response = await client.get("/peek")
        assert response.status == 503
