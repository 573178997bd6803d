"""The terminal session's screen handling against an in-memory exec: output onto the pyte screen,
coalesced redraws, answers to the program's queries, resizes, paste, the exit code and
cancellation."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest

from desktop_app.state.terminal_session import (
    REDRAW_INTERVAL,
    SHELL,
    TerminalSession,
    paste_bytes,
)
from doca.client import EngineClient, InvalidRequest


class FakeTransport(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


class FakeExec:
    """``containers`` of a client with one exec: its output is what the test puts in
    ``output`` (None ends it), its stdin ``transport.written``."""

    def __init__(self) -> None:
        self.containers = self
        self.output: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.transport = FakeTransport()
        self.created: list[tuple[str, list[str], dict[str, Any]]] = []
        self.console_size: tuple[int, int] | None = None
        self.resizes: list[tuple[int, int]] = []
        self.resize_failures = 0  # resizes refused first, as while the process is not running
        self.exit_code: int | None = 0
        self.released = False

    async def create_exec(
        self, container: str, cmd: list[str], env: list[str] | None = None, **options: Any
    ) -> str:
        self.created.append((container, cmd, {"Env": env, **options}))
        return "e1"

    @asynccontextmanager
    async def start_exec_attached(
        self, exec_id: str, tty: bool, console_size: tuple[int, int] | None = None
    ) -> AsyncIterator[tuple[AsyncIterator[tuple[int, bytes]], FakeTransport]]:
        assert exec_id == "e1" and tty
        self.console_size = console_size

        async def chunks() -> AsyncIterator[tuple[int, bytes]]:
            while (chunk := await self.output.get()) is not None:
                yield 1, chunk

        try:
            yield chunks(), self.transport
        finally:
            self.released = True
            self.transport.closed = True

    async def resize_exec(self, exec_id: str, height: int, width: int) -> None:
        if self.resize_failures:
            self.resize_failures -= 1
            raise InvalidRequest(400, f"exec {exec_id} is not running")
        self.resizes.append((height, width))

    async def inspect_exec(self, exec_id: str) -> dict[str, Any]:
        return {"ID": exec_id, "Running": False, "ExitCode": self.exit_code}


class Changes:
    """What ``on_change`` and ``on_exit`` were called with, and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, frozenset[int]]] = []
        self.exits: list[int | None] = []

    def __call__(self, rows: frozenset[int]) -> None:
        self.calls.append((asyncio.get_running_loop().time(), rows))


def new_session(fake: FakeExec, **options: Any) -> TerminalSession:
    """A session of container ``c1`` on the fake exec."""
    return TerminalSession(cast(EngineClient, fake), "c1", **options)


async def until(condition: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


@pytest.fixture
def fake() -> FakeExec:
    return FakeExec()


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def session(fake: FakeExec, changes: Changes) -> AsyncIterator[TerminalSession]:
    session = new_session(fake, rows=5, columns=20, on_change=changes, on_exit=changes.exits.append)
    task = asyncio.ensure_future(session.run())
    await until(lambda: session.connected)
    yield session
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_shell_with_a_tty_is_started(fake: FakeExec, session: TerminalSession) -> None:
    container, cmd, options = fake.created[0]
    assert container == "c1" and cmd == list(SHELL)
    assert options["AttachStdin"] is True and options["Tty"] is True
    assert options["Env"] == ["TERM=xterm"] and options["ConsoleSize"] == [5, 20]
    assert fake.console_size == (5, 20)
    await until(lambda: fake.resizes == [(5, 20)])  # the TTY gets the screen's size at once
    assert session.tty_size == (5, 20)


async def test_output_is_drawn_and_keys_are_sent(
    fake: FakeExec, session: TerminalSession, changes: Changes
) -> None:
    fake.output.put_nowait(b"/ # ls\r\nbin  etc\r\n")
    fake.output.put_nowait("caf\u00e9 \u2713".encode()[:4])  # a character split over two chunks
    fake.output.put_nowait("caf\u00e9 \u2713".encode()[4:] + b"\x1b[1;31mred\x1b[0m")
    await until(lambda: session.display()[2] == "caf\u00e9 \u2713red")
    assert session.display() == ["/ # ls", "bin  etc", "caf\u00e9 \u2713red", "", ""]
    red = session.screen.buffer[2][6]
    assert (red.data, red.fg, red.bold) == ("r", "red", True)
    assert session.screen.buffer[2][0].fg == "default"
    assert (session.screen.cursor.y, session.screen.cursor.x) == (2, 9)
    await until(lambda: changes.calls)
    assert set().union(*(rows for _, rows in changes.calls)) >= {0, 1, 2}

    assert session.send(b"echo hi\r") and session.send(b"\x03")
    assert bytes(fake.transport.written) == b"echo hi\r\x03"
    assert not session.send(b"")


async def test_redraws_are_coalesced(
    fake: FakeExec, session: TerminalSession, changes: Changes
) -> None:
    await until(lambda: fake.resizes)
    changes.calls.clear()
    for n in range(200):  # a burst: one redraw
        session.feed(f"line {n}\r\n".encode())
    await asyncio.sleep(REDRAW_INTERVAL * 3)
    assert len(changes.calls) == 1
    assert changes.calls[0][1] == frozenset(range(5))
    assert session.display()[-2] == "line 199"

    changes.calls.clear()
    loop = asyncio.get_running_loop()
    began = loop.time()
    while loop.time() - began < REDRAW_INTERVAL * 8:  # a steady trickle: one redraw per frame
        session.feed(b"x")
        await asyncio.sleep(0.001)
    await asyncio.sleep(REDRAW_INTERVAL * 2)
    times = [when for when, _ in changes.calls]
    assert 2 <= len(times) <= 10
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= REDRAW_INTERVAL * 0.9


async def test_the_programs_queries_are_answered(fake: FakeExec, session: TerminalSession) -> None:
    fake.output.put_nowait(b"/ # \x1b[6n")  # where is the cursor? (busybox sh asks)
    await until(lambda: fake.transport.written)
    assert bytes(fake.transport.written) == b"\x1b[1;5R"
    fake.transport.written.clear()
    fake.output.put_nowait(b"\x1b[c\x1b[5n")  # device attributes, status
    await until(lambda: len(fake.transport.written) >= 9)
    assert bytes(fake.transport.written) == b"\x1b[?6c\x1b[0n"


async def test_resizes_reach_the_tty_latest_size_winning(fake: FakeExec, changes: Changes) -> None:
    fake.resize_failures = 3  # the process does not run yet
    session = new_session(fake, rows=5, columns=20)
    session.resize(6, 30)  # before the exec: only the screen
    assert session.size == (6, 30)
    task = asyncio.ensure_future(session.run())
    try:
        await until(lambda: fake.resizes)
        assert fake.created[0][2]["ConsoleSize"] == [6, 30]
        assert fake.resizes == [(6, 30)] and fake.resize_failures == 0

        session.feed(b"\r\n" * 10 + b"prompt")  # the cursor on the last row
        session.resize(8, 40)
        session.resize(3, 10)  # shrinking keeps the cursor on the screen
        assert session.size == (3, 10) and session.screen.cursor.y == 2
        assert len(session.display()) == 3 and all(len(line) <= 10 for line in session.display())
        await until(lambda: session.tty_size == (3, 10))
        assert fake.resizes[-1] == (3, 10) and len(fake.resizes) <= 3
        session.resize(0, -1)  # nothing to see: one cell
        assert session.size == (1, 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_resize_refused_until_the_process_runs_is_sent_again_with_its_output(
    fake: FakeExec,
) -> None:
    fake.resize_failures = 1000
    session = new_session(fake, rows=5, columns=20)
    task = asyncio.ensure_future(session.run())
    try:
        await until(lambda: fake.resize_failures <= 1000 - 10, timeout=3)  # gave up for now
        await asyncio.sleep(0.05)
        assert session.tty_size is None
        fake.resize_failures = 0
        fake.output.put_nowait(b"/ # ")
        await until(lambda: session.tty_size == (5, 20))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_paste_and_key_modes_follow_the_program(
    fake: FakeExec, session: TerminalSession
) -> None:
    assert not session.application_cursor and not session.bracketed_paste
    assert session.paste("ls\nexit\r\n")
    assert bytes(fake.transport.written) == b"ls\rexit\r"
    fake.transport.written.clear()
    fake.output.put_nowait(b"\x1b[?1h\x1b[?2004h")
    await until(lambda: session.bracketed_paste)
    assert session.application_cursor
    session.paste("a\nb\x1b[201~c")
    assert bytes(fake.transport.written) == b"\x1b[200~a\rbc\x1b[201~"
    fake.output.put_nowait(b"\x1b[?1l\x1b[?2004l")
    await until(lambda: not session.bracketed_paste)
    assert not session.application_cursor


def test_paste_bytes() -> None:
    assert paste_bytes("one\r\ntwo\n", bracketed=False) == b"one\rtwo\r"
    assert paste_bytes("\u00e9", bracketed=True) == b"\x1b[200~\xc3\xa9\x1b[201~"


async def test_the_exit_code_is_reported_once_the_output_ends(
    fake: FakeExec, session: TerminalSession, changes: Changes
) -> None:
    await until(lambda: fake.resizes)
    changes.calls.clear()
    fake.exit_code = 7
    fake.output.put_nowait(b"exit 7\r\n")
    fake.output.put_nowait(None)
    await until(lambda: changes.exits)
    assert changes.exits == [7] and session.exit_code == 7
    assert session.finished and not session.connected and fake.released
    assert session.display()[0] == "exit 7"
    assert changes.calls and 0 in changes.calls[-1][1]  # the last output was drawn
    assert not session.send(b"ls\r")
    with pytest.raises(RuntimeError):
        await session.run()


async def test_an_exit_without_a_code(fake: FakeExec, changes: Changes) -> None:
    fake.exit_code = None
    session = new_session(fake, on_exit=changes.exits.append)
    fake.output.put_nowait(None)
    assert await session.run() is None
    assert changes.exits == [None]


async def test_cancelling_ends_the_connection_without_an_exit(
    fake: FakeExec, changes: Changes
) -> None:
    session = new_session(fake, on_change=changes, on_exit=changes.exits.append)
    task = asyncio.ensure_future(session.run())
    await until(lambda: fake.resizes)
    await asyncio.sleep(REDRAW_INTERVAL * 2)
    changes.calls.clear()
    session.feed(b"first")
    await until(lambda: changes.calls)  # drawn at once
    session.feed(b" second")  # within the same frame: its redraw waits
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and fake.released and session.finished
    assert not session.connected and not session.send(b"x")
    await asyncio.sleep(REDRAW_INTERVAL * 3)
    assert len(changes.calls) == 1 and changes.exits == []  # nothing runs after the cancel
