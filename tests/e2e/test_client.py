"""doca's Engine API client against a real doca-engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from doca.client import Conflict, EngineClient, EngineUnavailable, NotFound
from tests.support.engine import EngineProcess
from tests.support.testimage import TestImage


async def test_images_containers_volumes_and_events(
    engine: EngineProcess, test_image: TestImage
) -> None:
    async with EngineClient(engine.host) as client:
        assert await client.ping()
        assert (await client.version())["ApiVersion"] == "1.47"
        messages = [m async for m in client.images.load(test_image.save_tar)]
        assert any("Loaded image: busybox:latest" in m.get("stream", "") for m in messages)
        assert [i["Id"] for i in await client.images.list()] == [test_image.image_id]

        events: list[dict] = []

        async def listen() -> None:
            async for event in client.events(filters={"type": ["container"]}):
                events.append(event)

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        cid = await client.containers.create(
            {"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
            name="client-test",
        )
        await client.containers.start(cid)
        assert await client.containers.wait(cid) == 3
        chunks = [c async for c in client.containers.logs(cid)]
        assert sorted(chunks) == [(1, b"out\n"), (2, b"err\n")]
        with pytest.raises(Conflict):
            await client.containers.create(
                {"Image": "busybox", "Cmd": ["true"]}, name="client-test"
            )
        await client.containers.remove(cid)
        with pytest.raises(NotFound) as info:
            await client.containers.inspect(cid)
        assert info.value.status == 404 and "No such container" in info.value.message
        await asyncio.sleep(0.3)
        listener.cancel()
        assert {"create", "start", "die", "destroy"} <= {e["Action"] for e in events}

        volume = await client.volumes.create("client-vol", labels={"a": "b"})
        assert volume["Name"] == "client-vol"
        assert "client-vol" in [v["Name"] for v in await client.volumes.list()]
        await client.volumes.remove("client-vol")


async def test_unreachable_engine(tmp_path: Path) -> None:
    async with EngineClient(f"unix://{tmp_path}/nothing.sock") as client:
        assert await client.ping() is False
        with pytest.raises(EngineUnavailable) as info:
            await client.info()
        assert info.value.status == 0
