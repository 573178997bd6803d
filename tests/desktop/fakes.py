"""A fake Engine API client (in memory, with an event stream the test drives) and prompts that
answer by themselves, for the unit tests of stores, models and views."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from doca.client import EngineUnavailable, NotFound


def container(cid: str, name: str, state: str = "running", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Id": cid,
        "Names": [f"/{name}"],
        "Image": "busybox",
        "ImageID": "sha256:" + "b" * 64,
        "State": state,
        "Status": "Up 1 second" if state == "running" else "Exited (0) 1 second ago",
        "Ports": [],
        "Created": 1704067200,
        "Labels": {},
    }
    row.update(extra)
    return row


class FakeContainers:
    def __init__(self, engine: FakeEngineClient) -> None:
        self.engine = engine
        self.rows: list[dict[str, Any]] = []
        self.logs_text: dict[str, bytes] = {}

    async def list(self, all: bool = True, filters: Any = None) -> list[dict[str, Any]]:
        self.engine.record("containers.list")
        return [dict(r) for r in self.rows]

    def _find(self, cid: str) -> dict[str, Any]:
        for row in self.rows:
            if row["Id"] == cid:
                return row
        raise NotFound(404, f"No such container: {cid}")

    async def _verb(self, verb: str, cid: str, state: str | None) -> None:
        self.engine.record(f"containers.{verb}", cid)
        row = self._find(cid)
        if state is not None:
            row["State"] = state
        self.engine.emit("container", verb, cid)

    async def start(self, cid: str) -> None:
        await self._verb("start", cid, "running")

    async def stop(self, cid: str, timeout: int | None = None) -> None:
        await self._verb("stop", cid, "exited")

    async def restart(self, cid: str, timeout: int | None = None) -> None:
        await self._verb("restart", cid, "running")

    async def kill(self, cid: str, signal: str | None = None) -> None:
        await self._verb("kill", cid, "exited")

    async def pause(self, cid: str) -> None:
        await self._verb("pause", cid, "paused")

    async def unpause(self, cid: str) -> None:
        await self._verb("unpause", cid, "running")

    async def remove(self, cid: str, force: bool = False, volumes: bool = False) -> None:
        await self._verb("remove", cid, None)
        self.rows.remove(self._find(cid))

    async def create(self, config: dict[str, Any], name: str | None = None) -> str:
        self.engine.record("containers.create", config, name)
        cid = f"{len(self.rows) + 1:064x}"
        self.rows.append(container(cid, name or "random_name", "created"))
        self.engine.emit("container", "create", cid)
        return cid

    async def logs(
        self, cid: str, follow: bool = False, tail: int | None = None, timestamps: bool = False
    ) -> AsyncIterator[tuple[int, bytes]]:
        self._find(cid)
        yield 1, self.logs_text.get(cid, b"")
        if follow:
            await asyncio.Event().wait()


class FakeImages:
    def __init__(self, engine: FakeEngineClient) -> None:
        self.engine = engine
        self.rows: list[dict[str, Any]] = []

    async def list(self, all: bool = False) -> list[dict[str, Any]]:
        self.engine.record("images.list")
        return [dict(r) for r in self.rows]

    async def remove(self, name: str, force: bool = False) -> builtins.list[dict[str, Any]]:
        self.engine.record("images.remove", name)
        raise self.engine.fail_with or NotFound(404, f"No such image: {name}")

    async def prune(self, dangling_only: bool = True) -> dict[str, Any]:
        self.engine.record("images.prune")
        return {"ImagesDeleted": [], "SpaceReclaimed": 0}

    async def load(self, path: Path) -> AsyncIterator[dict[str, Any]]:
        self.engine.record("images.load", path)
        yield {"stream": f"Loaded image: {path.stem}:latest\n"}


class FakeVolumes:
    def __init__(self, engine: FakeEngineClient) -> None:
        self.engine = engine
        self.rows: list[dict[str, Any]] = []

    async def list(self) -> list[dict[str, Any]]:
        self.engine.record("volumes.list")
        return [dict(r) for r in self.rows]

    async def create(self, name: str | None = None, labels: Any = None) -> dict[str, Any]:
        self.engine.record("volumes.create", name)
        row = {"Name": name or "f" * 64, "Driver": "local", "Mountpoint": f"/v/{name}/_data"}
        self.rows.append(row)
        self.engine.emit("volume", "create", row["Name"])
        return row

    async def remove(self, name: str, force: bool = False) -> None:
        self.engine.record("volumes.remove", name)
        self.rows = [r for r in self.rows if r["Name"] != name]
        self.engine.emit("volume", "destroy", name)

    async def prune(self, all: bool = False) -> dict[str, Any]:
        self.engine.record("volumes.prune")
        return {"VolumesDeleted": [], "SpaceReclaimed": 0}


class FakeEngineClient:
    """Enough of ``EngineClient`` for the app; ``up`` switches the engine on and off."""

    def __init__(self) -> None:
        self.host = "unix:///fake/doca.sock"
        self.up = True
        self.calls: list[tuple[Any, ...]] = []
        self.fail_with: Exception | None = None
        self.containers = FakeContainers(self)
        self.images = FakeImages(self)
        self.volumes = FakeVolumes(self)
        self._subscribers: list[asyncio.Queue[dict[str, Any] | None]] = []
        self.closed = False

    def record(self, *call: Any) -> None:
        if not self.up:
            raise EngineUnavailable(0, "cannot reach the engine")
        self.calls.append(call)

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call[0] == name)

    def emit(self, kind: str, action: str, actor: str) -> None:
        event = {"Type": kind, "Action": action, "Actor": {"ID": actor}, "time": int(time.time())}
        for queue in self._subscribers:
            queue.put_nowait(event)

    def drop_connections(self) -> None:
        """The engine went away: every event stream ends with an error."""
        self.up = False
        for queue in self._subscribers:
            queue.put_nowait(None)

    async def ping(self) -> bool:
        return self.up

    async def events(
        self, since: float | None = None, filters: Any = None
    ) -> AsyncIterator[dict[str, Any]]:
        self.record("events")
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
            raise EngineUnavailable(0, "connection lost")
        finally:
            self._subscribers.remove(queue)

    @property
    def listening(self) -> int:
        return len(self._subscribers)

    async def close(self) -> None:
        self.closed = True


class AnsweringPrompts:
    """``Prompts`` that answer from attributes and remember what they were asked."""

    def __init__(self) -> None:
        self.confirm_answer = True
        self.text_answer: str | None = "vol1"
        self.file_answer: Path | None = None
        self.asked: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []

    def confirm(self, title: str, text: str) -> bool:
        self.asked.append((title, text))
        return self.confirm_answer

    def error(self, title: str, text: str) -> None:
        self.errors.append((title, text))

    def info(self, title: str, text: str) -> None:
        self.infos.append((title, text))

    def ask_text(self, title: str, label: str) -> str | None:
        self.asked.append((title, label))
        return self.text_answer

    def open_file(self, title: str, name_filter: str) -> Path | None:
        self.asked.append((title, name_filter))
        return self.file_answer
