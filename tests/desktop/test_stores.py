"""The Qt-free stores and the event pump, against the fake client (no Qt imported here)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from desktop_app.state.session import EngineSession
from desktop_app.state.store import ResourceStore
from tests.desktop.fakes import FakeEngineClient, container


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def fake() -> FakeEngineClient:
    client = FakeEngineClient()
    client.containers.rows = [container("a" * 64, "web")]
    client.volumes.rows = [{"Name": "data", "Driver": "local", "Mountpoint": "/v/data/_data"}]
    return client


@pytest.fixture
async def session(fake: FakeEngineClient) -> AsyncIterator[EngineSession]:
    session = EngineSession(fake, debounce=0.05)  # type: ignore[arg-type]
    session.start()
    yield session
    await session.aclose()


def test_state_and_supervisor_do_not_import_qt() -> None:
    modules = "desktop_app.state.session, desktop_app.state.rows, desktop_app.state.run_config"
    code = (
        f"import sys, {modules}, desktop_app.engine_supervisor\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_loads_on_connect_and_listens(fake: FakeEngineClient, session: EngineSession) -> None:
    await until(lambda: session.containers.loaded and session.volumes.loaded)
    assert [r["Names"] for r in session.containers.rows] == [["/web"]]
    assert session.volumes.rows[0]["Name"] == "data"
    await until(lambda: fake.listening == 1)


async def test_an_event_refreshes_only_its_store_debounced(
    fake: FakeEngineClient, session: EngineSession
) -> None:
    await until(lambda: session.containers.loaded and fake.listening == 1)
    changes: list[int] = []
    session.containers.add_listener(lambda: changes.append(len(session.containers.rows)))
    lists_before = fake.count("containers.list"), fake.count("volumes.list")
    fake.containers.rows.append(container("b" * 64, "db"))
    for _ in range(5):  # a burst of events: one reload
        fake.emit("container", "start", "b" * 64)
    await until(lambda: changes == [2])
    await asyncio.sleep(0.15)
    assert fake.count("containers.list") == lists_before[0] + 1
    assert fake.count("volumes.list") == lists_before[1]


async def test_quiet_events_do_not_reload(fake: FakeEngineClient, session: EngineSession) -> None:
    await until(lambda: session.containers.loaded and fake.listening == 1)
    before = fake.count("containers.list")
    fake.emit("container", "exec_start: sh", "a" * 64)
    fake.emit("container", "attach", "a" * 64)
    await asyncio.sleep(0.2)
    assert fake.count("containers.list") == before


async def test_commit_refreshes_images(fake: FakeEngineClient, session: EngineSession) -> None:
    await until(lambda: session.images.loaded and fake.listening == 1)
    before = fake.count("images.list")
    fake.emit("container", "commit", "a" * 64)
    await until(lambda: fake.count("images.list") == before + 1)


async def test_errors_are_kept_and_cleared(fake: FakeEngineClient) -> None:
    session = EngineSession(fake, debounce=0.01)  # type: ignore[arg-type]
    fake.up = False
    await session.containers.refresh()
    assert session.containers.error == "cannot reach the engine"
    assert not session.containers.loaded
    fake.up = True
    await session.containers.refresh()
    assert session.containers.error is None and session.containers.loaded
    await session.aclose()


async def test_reconnects_and_reloads_after_the_engine_comes_back(
    fake: FakeEngineClient, session: EngineSession
) -> None:
    await until(lambda: session.containers.loaded and fake.listening == 1)
    fake.drop_connections()
    await until(lambda: fake.listening == 0)
    fake.containers.rows.append(container("c" * 64, "cache"))  # changed while we were away
    fake.up = True
    session.engine_is_back()
    await until(lambda: len(session.containers.rows) == 2 and fake.listening == 1)


async def test_close_cancels_every_task(fake: FakeEngineClient) -> None:
    session = EngineSession(fake, debounce=0.01)  # type: ignore[arg-type]
    session.start()
    await until(lambda: fake.listening == 1)
    session.containers.schedule_refresh(delay=10)
    await session.aclose()
    assert fake.listening == 0 and fake.closed
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_listener_errors_do_not_break_the_store() -> None:
    class Numbers(ResourceStore):
        event_type = "number"

        async def fetch(self) -> list[dict[str, Any]]:
            return [{"Id": "1"}]

    store = Numbers()
    seen: list[int] = []

    def broken() -> None:
        raise RuntimeError("a broken listener")

    store.add_listener(broken)
    store.add_listener(lambda: seen.append(len(store.rows)))
    await store.refresh()
    assert seen == [1] and store.find("1") == {"Id": "1"}
    await store.aclose()
