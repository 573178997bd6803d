"""The local terminal of an attached session: raw mode, its size (sent again on SIGWINCH), stdin
read without blocking the event loop, and the detach keys (ctrl-p ctrl-q by default)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

DEFAULT_DETACH_KEYS = b"\x10\x11"
# term.ASCII of moby/term: the names of the control codes 0 to 31.
_CONTROL = ["ctrl-@", *(f"ctrl-{c}" for c in "abcdefghijklmnopqrstuvwxyz"), "ctrl-[",
            "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]  # fmt: skip
_READ_SIZE = 32 * 1024
RESIZE_ATTEMPTS = 11


def parse_detach_keys(text: str) -> bytes:
    """``ctrl-p,ctrl-q`` → ``b"\\x10\\x11"`` (moby/term's ToBytes); ValueError names a key it
    does not know."""
    codes = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            codes += key.encode()
        elif key in _CONTROL:
            codes.append(_CONTROL.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(codes)


class DetachMatcher:
    """Passes keystrokes on, holding back a partial detach sequence until it is clear whether
    the whole one follows."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to send on, whether the detach sequence is complete)."""
        out = bytearray()
        for byte in data:
            candidate = self._held + bytes([byte])
            if not self.keys.startswith(candidate):
                out += self._held
                candidate = bytes([byte])
                if not self.keys.startswith(candidate):
                    out += candidate
                    candidate = b""
            if candidate == self.keys:
                self._held = b""
                return bytes(out), True
            self._held = candidate
        return bytes(out), False


def is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def terminal_size(fd: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the terminal on stdout, (0, 0) when it is not one."""
    fd = sys.stdout.fileno() if fd is None else fd
    if not is_terminal(fd):
        return 0, 0
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 0, 0
    return size.lines, size.columns


@contextlib.contextmanager
def raw_terminal(fd: int, wanted: bool = True) -> Iterator[Callable[[], None]]:
    """The terminal on ``fd`` in raw mode as moby/term's MakeRaw sets it (pending input kept),
    restored on the way out; yields the restore function for an earlier restore."""
    if not wanted or not is_terminal(fd):
        yield lambda: None
        return
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                 | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)  # fmt: skip
    mode[1] &= ~termios.OPOST
    mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    mode[2] &= ~(termios.CSIZE | termios.PARENB)
    mode[2] |= termios.CS8
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    restored = False

    def restore() -> None:
        nonlocal restored
        if not restored:
            restored = True
            with contextlib.suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSANOW, saved)

    try:
        yield restore
    finally:
        restore()


async def read_chunks(fd: int) -> AsyncIterator[bytes]:
    """What arrives on ``fd`` until its end. Pipes and terminals are watched by the event loop;
    a regular file (which epoll refuses) is read by a daemon thread that never holds up the
    exit."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        queue.put_nowait(data)

    try:
        loop.add_reader(fd, readable)
        watched = True
    except (PermissionError, OSError, ValueError):
        watched = False

        def pump() -> None:
            while True:
                try:
                    data = os.read(fd, _READ_SIZE)
                except OSError:
                    data = b""
                loop.call_soon_threadsafe(queue.put_nowait, data)
                if not data:
                    return

        threading.Thread(target=pump, name="stdin", daemon=True).start()
    try:
        while data := await queue.get():
            yield data
    finally:
        if watched:
            loop.remove_reader(fd)


@contextlib.contextmanager
def follow_terminal_size(
    resize: Callable[[int, int], Awaitable[object]], initial_bump: bool = False
) -> Iterator[None]:
    """Send the terminal's size now and on every SIGWINCH while the block runs (MonitorTtySize).
    With ``initial_bump`` one size larger first, which makes a shell redraw on re-attach."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def send(bump: int = 0) -> None:
        rows, columns = terminal_size()
        if rows or columns:
            with contextlib.suppress(Exception):
                if bump:
                    await resize(rows + bump, columns + bump)
                await resize(rows, columns)

    async def first(bump: int) -> None:
        # The process may not run yet: try again a few times, as the docker CLI does.
        rows, columns = terminal_size()
        if not (rows or columns):
            return
        if bump:
            with contextlib.suppress(Exception):
                await resize(rows + bump, columns + bump)
        for attempt in range(RESIZE_ATTEMPTS):
            try:
                await resize(rows, columns)
                return
            except Exception:
                await asyncio.sleep((attempt + 1) * 0.01)
        sys.stderr.write("failed to resize tty, using default size\n")

    def schedule(job: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(job)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    schedule(first(1 if initial_bump else 0))
    loop.add_signal_handler(signal.SIGWINCH, lambda: schedule(send()))
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGWINCH)
        for task in tasks:
            task.cancel()
