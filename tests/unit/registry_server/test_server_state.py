"""Listening rules, the root's lock and recovery after a crash."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp
import pytest

from engine.errors import Conflict, InvalidParameter
from engine.registry_server import RegistryState, ServeConfig, check_exposure, parse_addr, serve
from tests.unit.registry_server.conftest import Registry, digest_of, start_registry


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert parse_addr("[::1]:0") == ("::1", 0)
    assert parse_addr(":5000") == ("", 5000)
    for bad in ("5000", "host:", "host:port", "host:70000"):
        with pytest.raises(InvalidParameter):
            parse_addr(bad)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_loopback_may_be_open(host: str, tmp_path: Path) -> None:
    check_exposure(ServeConfig(tmp_path, host, 0))


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::", "192.0.2.1", "no-such-host.invalid"])
def test_open_registry_refuses_other_addresses(host: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_exposure(ServeConfig(tmp_path, host, 0))
    assert "--insecure-open" in caught.value.message
    check_exposure(ServeConfig(tmp_path, host, 0, insecure_open=True))
    check_exposure(ServeConfig(tmp_path, host, 0, htpasswd=tmp_path / "htpasswd"))


def test_one_server_per_root(tmp_path: Path) -> None:
    first = RegistryState.open(tmp_path, None, "r")
    try:
        with pytest.raises(Conflict):
            RegistryState.open(tmp_path, None, "r")
    finally:
        first.close()
    RegistryState.open(tmp_path, None, "r").close()


async def test_crash_mid_upload_leaves_no_blob(registry: Registry) -> None:
    data = os.urandom(5000)
    location = (await registry.request("POST", "/v2/app/blobs/uploads/")).headers["Location"]
    await registry.request("PATCH", location, data[:2000])
    ingest = registry.root / "ingest"
    # What a crash leaves: the half upload, and a temp file of an interrupted index write.
    assert len(list(ingest.iterdir())) == 1
    stale_index = registry.root / "repositories" / ".x.tmp-1"
    stale_index.write_text("{")

    # A second registry on a copy of the root, as the next start after the crash would be.
    copy = registry.root.parent / "after-crash"
    shutil.copytree(registry.root, copy)
    (copy / ".lock").unlink()
    runner, port = await start_registry(copy, None)
    try:
        assert list((copy / "ingest").iterdir()) == []
        assert not (copy / "repositories" / ".x.tmp-1").exists()
        assert list((copy / "blobs" / "sha256").iterdir()) == []
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}"
            async with session.head(f"{url}/v2/app/blobs/{digest_of(data)}") as resp:
                assert resp.status == 404
            async with session.get(f"{url}{location}") as resp:
                assert resp.status == 404
    finally:
        await runner.cleanup()


async def test_serve_binds_and_stops(tmp_path: Path) -> None:
    stop = asyncio.Event()
    bound: list[tuple[str, int]] = []
    config = ServeConfig(tmp_path / "root", "127.0.0.1", 0)
    task = asyncio.create_task(serve(config, stop, lambda h, p: bound.append((h, p))))
    try:
        for _ in range(100):
            if bound:
                break
            await asyncio.sleep(0.05)
        host, port = bound[0]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/v2/") as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    # The root's lock was released.
    RegistryState.open(tmp_path / "root", None, "r").close()


async def test_serve_refuses_an_open_public_address(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        await serve(ServeConfig(tmp_path, "0.0.0.0", 0), asyncio.Event(), lambda h, p: None)
    assert not (tmp_path / "blobs").exists()
