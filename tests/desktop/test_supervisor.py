"""The engine supervisor (Qt-free) against a stand-in engine process."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.engine_status import EngineState, EngineStatus, engine_argv
from desktop_app.engine_supervisor import EngineSupervisor, SupervisorError
from tests.support.engine import alive, short_root

FAKE_ENGINE = str(Path(__file__).with_name("fake_engine.py"))


@pytest.fixture
def root() -> Iterator[Path]:
    path = short_root()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fake_argv(root: Path, *flags: str) -> list[str]:
    return [sys.executable, FAKE_ENGINE, str(root / "doca.sock"), *flags]


def supervisor(root: Path, argv: list[str] | None, **options: Any) -> EngineSupervisor:
    options = {"backoff": (0.1, 0.2), "start_timeout": 10, "stop_timeout": 5, **options}
    return EngineSupervisor(f"unix://{root}/doca.sock", argv, **options)


Closing = Callable[[EngineSupervisor], EngineSupervisor]


@pytest.fixture
async def closing() -> AsyncIterator[Closing]:
    """Registers supervisors to close after the test (their engines are stopped then)."""
    made: list[EngineSupervisor] = []

    def register(sup: EngineSupervisor) -> EngineSupervisor:
        made.append(sup)
        return sup

    yield register
    for sup in made:
        await sup.aclose()


async def test_starts_the_engine_and_stops_it_by_sigterm(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, fake_argv(root)))
    states: list[EngineState] = []
    sup.add_listener(lambda s: states.append(s.state) if s.state not in states[-1:] else None)
    sup.start()
    status = await sup.wait_for(EngineState.RUNNING, timeout=10)
    assert status.owned and status.pid is not None and sup.owns_engine
    pid = status.pid
    assert "fake engine listening" in "\n".join(sup.log_tail())
    await sup.stop()
    assert sup.status.state is EngineState.STOPPED and not alive(pid)
    assert states == [EngineState.STARTING, EngineState.RUNNING, EngineState.STOPPING,
                      EngineState.STOPPED]  # fmt: skip
    assert "stopping on SIGTERM" in "\n".join(sup.log_tail())


async def test_connects_to_a_running_engine_and_never_signals_it(
    root: Path, closing: Closing
) -> None:
    proc = await asyncio.create_subprocess_exec(*fake_argv(root), stdout=asyncio.subprocess.DEVNULL)
    try:
        sup = closing(supervisor(root, fake_argv(root, "--die-after", "0")))
        for _ in range(200):  # until it accepts: the file exists a moment before that
            try:
                _, writer = await asyncio.open_unix_connection(str(root / "doca.sock"))
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        sup.start()
        status = await sup.wait_for(EngineState.RUNNING, timeout=10)
        assert not status.owned and not sup.owns_engine
        assert status.pid == proc.pid  # found by its listening socket, for CPU/memory
        with pytest.raises(SupervisorError):
            await sup.stop()
        await sup.aclose()
        assert proc.returncode is None  # still running: not ours to stop
    finally:
        proc.terminate()
        await proc.wait()


async def test_restarts_a_crashed_engine_with_back_off_then_gives_up(
    root: Path, closing: Closing
) -> None:
    starts = root / "starts"
    argv = fake_argv(root, "--die-after", "0.2", "--exit-code", "7", "--count-starts", str(starts))
    sup = closing(supervisor(root, argv, max_restarts=2))
    reasons: list[str] = []
    sup.add_listener(lambda s: reasons.append(s.reason) if s.state is EngineState.ERROR else None)
    sup.start()
    await sup.wait_for(EngineState.RUNNING, timeout=10)
    await sup._supervising  # type: ignore[misc]
    assert starts.read_text().count("start") == 3  # the first start and two restarts
    assert "the engine exited with code 7; restarting in 0.1 s" in reasons
    assert "the engine exited with code 7; restarting in 0.2 s" in reasons
    assert sup.status.reason == "the engine exited with code 7; gave up after 2 restarts"
    assert any("crashing with 7" in line for line in sup.status.log_lines)


async def test_an_engine_that_ignores_sigterm_is_killed(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, fake_argv(root, "--ignore-term"), stop_timeout=0.5))
    sup.start()
    pid = (await sup.wait_for(EngineState.RUNNING, timeout=10)).pid
    assert pid is not None
    await sup.stop()
    assert not alive(pid) and sup.status.state is EngineState.STOPPED


async def test_an_engine_that_never_answers_is_an_error(root: Path, closing: Closing) -> None:
    argv = fake_argv(root, "--never-ready")
    # Long enough for the fake engine's Python to start and log on a busy machine.
    sup = closing(supervisor(root, argv, start_timeout=3, max_restarts=0))
    sup.start()
    status = await sup.wait_for(EngineState.ERROR, timeout=15)
    assert status.reason == "the engine did not answer within 3 s; gave up after 0 restarts"
    assert "fake engine" in status.log_lines[0]


async def test_a_missing_program_is_an_error(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, [str(root / "no-such-engine")], max_restarts=0))
    sup.start()
    status = await sup.wait_for(EngineState.ERROR, timeout=5)
    assert "cannot start" in status.reason and "no-such-engine" in status.reason


async def test_without_argv_it_waits_for_an_engine(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, None, health_interval=0.1))
    sup.start()
    status = await sup.wait_for(EngineState.ERROR, timeout=5)
    assert "no engine answers" in status.reason and "disabled" in status.reason
    assert not sup.can_start
    proc = await asyncio.create_subprocess_exec(*fake_argv(root), stdout=asyncio.subprocess.DEVNULL)
    try:
        await sup.wait_for(EngineState.RUNNING, timeout=10)
    finally:
        proc.terminate()
        await proc.wait()
    status = await sup.wait_for(EngineState.ERROR, timeout=5)
    assert "stopped answering" in status.reason


async def test_start_in_the_error_state_tries_again_now(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, None, health_interval=60))
    sup.start()
    await sup.wait_for(EngineState.ERROR, timeout=5)
    proc = await asyncio.create_subprocess_exec(*fake_argv(root), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        while b"listening" not in await proc.stdout.readline():
            pass
        sup.start()  # without it, the next check would come in a minute
        await sup.wait_for(EngineState.RUNNING, timeout=5)
    finally:
        proc.terminate()
        await proc.wait()


async def test_resources_are_sampled(root: Path, closing: Closing) -> None:
    sup = closing(supervisor(root, fake_argv(root), sample_interval=0.1))
    seen: list[EngineStatus] = []
    sup.add_listener(seen.append)
    sup.start()
    await sup.wait_for(EngineState.RUNNING, timeout=10)
    for _ in range(50):
        if sup.status.memory_rss:
            break
        await asyncio.sleep(0.05)
    assert sup.status.memory_rss and sup.status.memory_rss > 1_000_000
    assert sup.status.cpu_percent is not None
    assert "MB" in sup.status.summary() and "CPU" in sup.status.summary()


def test_engine_argv() -> None:
    argv = engine_argv("unix:///r/doca.sock", Path("/d"), Path("/e"), python="py")
    assert argv == ["py", "-m", "engine", "-H", "unix:///r/doca.sock", "--data-root", "/d",
                    "--exec-root", "/e"]  # fmt: skip
