"""``TerminalSession``: one interactive shell in a container, as ``docker exec -it <c> sh`` runs
it, with its output kept on a pyte screen (a VT100/xterm model) for a view to draw.

The shell is ``/bin/bash`` when the image has one, else ``/bin/sh``: one exec of ``sh`` makes the
choice inside the container, so opening a terminal costs no extra request. ``TERM=xterm`` is set
because the screen understands what xterm's terminfo entry asks for (colours, cursor keys).

The output is fed to the screen as it arrives; the change callback runs at most once per
``REDRAW_INTERVAL`` with the lines that changed, so a burst of output is one redraw, not a
thousand. Everything runs on the event loop; ``run`` owns the one helper task it starts (the
resizer), and cancelling ``run`` ends the exec's connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import pyte

from doca.client import EngineClient, EngineError

log = logging.getLogger(__name__)

SHELL = ("sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi")
REDRAW_INTERVAL = 0.016  # one redraw per frame of a 60 Hz display at most
# The exec's process may not run yet when its connection is ready: the first resize is tried
# again a few times, as the docker CLI does.
RESIZE_ATTEMPTS = 10
# Private modes as pyte records them (shifted left by 5): application cursor keys (DECCKM) and
# bracketed paste (xterm's 2004).
APPLICATION_CURSOR = 1 << 5
BRACKETED_PASTE = 2004 << 5

OnChange = Callable[[frozenset[int]], None]
OnExit = Callable[["int | None"], None]


class TerminalScreen(pyte.Screen):
    """A pyte screen whose answers to the program's queries (cursor position, device status and
    attributes) go back to the program as input, as a terminal's do."""

    def __init__(self, columns: int, lines: int, reply: Callable[[str], object]) -> None:
        self._reply = reply
        super().__init__(columns, lines)

    def write_process_input(self, data: str) -> None:
        self._reply(data)


def paste_bytes(text: str, bracketed: bool) -> bytes:
    """Pasted text as a terminal sends it: line ends as Enter (``\\r``), and inside xterm's
    bracketed-paste markers when the program asked for them (so a shell does not run the lines
    one by one); markers inside the text are dropped so it cannot end the paste early."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if not bracketed:
        return text.encode()
    text = text.replace("\x1b[200~", "").replace("\x1b[201~", "")
    return b"\x1b[200~" + text.encode() + b"\x1b[201~"


class TerminalSession:
    """One exec with a TTY in ``container_id``: ``run`` it (once), ``send`` keystrokes,
    ``resize`` it; ``on_change`` gets the screen's changed lines, ``on_exit`` the exit code."""

    def __init__(
        self,
        client: EngineClient,
        container_id: str,
        rows: int = 24,
        columns: int = 80,
        command: Sequence[str] = SHELL,
        on_change: OnChange | None = None,
        on_exit: OnExit | None = None,
    ) -> None:
        self._client = client
        self.container_id = container_id
        self.command = list(command)
        self.on_change = on_change
        self.on_exit = on_exit
        self.screen = TerminalScreen(max(columns, 1), max(rows, 1), self._reply)
        self._stream = pyte.ByteStream(self.screen)
        self.exec_id: str | None = None
        self.exit_code: int | None = None
        self.started = False
        self.finished = False
        self._transport: asyncio.WriteTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redraw: asyncio.TimerHandle | None = None
        self._last_redraw = float("-inf")
        self._size_changed = asyncio.Event()
        self._sent_size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of the screen."""
        return self.screen.lines, self.screen.columns

    @property
    def tty_size(self) -> tuple[int, int] | None:
        """(rows, columns) the exec's TTY was last given, once it was."""
        return self._sent_size

    @property
    def connected(self) -> bool:
        """Whether keystrokes reach the shell."""
        return self._transport is not None and not self._transport.is_closing()

    @property
    def application_cursor(self) -> bool:
        """Whether the program asked for application cursor keys (``ESC O A`` for Up)."""
        return APPLICATION_CURSOR in self.screen.mode

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self.screen.mode

    def display(self) -> list[str]:
        """The screen's lines as text, trailing blanks removed."""
        return [line.rstrip() for line in self.screen.display]

    async def run(self) -> int | None:
        """Create the exec, attach to it and feed its output to the screen until it ends; its
        exit code (None when the engine does not know it), also passed to ``on_exit``."""
        if self.started:
            raise RuntimeError("a terminal session runs once")
        self.started = True
        self._loop = asyncio.get_running_loop()
        containers = self._client.containers
        rows, columns = self.size
        try:
            self.exec_id = await containers.create_exec(
                self.container_id, self.command, env=["TERM=xterm"],
                AttachStdin=True, Tty=True, ConsoleSize=[rows, columns],
            )  # fmt: skip
            attached = containers.start_exec_attached(self.exec_id, True, (rows, columns))
            async with attached as (output, transport):
                self._transport = transport
                self._size_changed.set()
                resizer = asyncio.ensure_future(self._follow_size())
                seen_output = False
                try:
                    async for _stream, chunk in output:
                        if not seen_output:
                            # Output means the process runs: a first resize that came too
                            # early is sent again.
                            seen_output = True
                            self._size_changed.set()
                        self.feed(chunk)
                finally:
                    self._transport = None
                    resizer.cancel()
                    await asyncio.gather(resizer, return_exceptions=True)
            answer = await containers.inspect_exec(self.exec_id)
        finally:
            self.finished = True
            self._cancel_redraw()
        code = answer.get("ExitCode")
        self.exit_code = int(code) if isinstance(code, int) else None
        self._notify()
        if self.on_exit is not None:
            self.on_exit(self.exit_code)
        return self.exit_code

    def feed(self, data: bytes) -> None:
        """Output of the program: onto the screen, and a redraw is due."""
        self._stream.feed(data)
        self._changed()

    def send(self, data: bytes) -> bool:
        """Keystrokes (or any input) to the shell; False when it is not connected."""
        transport = self._transport
        if not data or transport is None or transport.is_closing():
            return False
        transport.write(data)
        return True

    def paste(self, text: str) -> bool:
        return self.send(paste_bytes(text, self.bracketed_paste))

    def resize(self, rows: int, columns: int) -> None:
        """Resize the screen now and the exec's TTY soon (the latest size wins)."""
        rows, columns = max(rows, 1), max(columns, 1)
        if (rows, columns) == self.size:
            return
        self.screen.resize(rows, columns)
        # pyte keeps the cursor where it was, which may now be off the screen.
        self.screen.cursor.y = min(self.screen.cursor.y, rows - 1)
        self.screen.cursor.x = min(self.screen.cursor.x, columns - 1)
        self._size_changed.set()
        self._changed()

    def _reply(self, data: str) -> None:
        self.send(data.encode())

    async def _follow_size(self) -> None:
        attempts = RESIZE_ATTEMPTS
        while True:
            await self._size_changed.wait()
            self._size_changed.clear()
            if self.size != self._sent_size:
                await self._send_size(attempts)
                attempts = 1

    async def _send_size(self, attempts: int) -> None:
        assert self.exec_id is not None
        for attempt in range(attempts):
            rows, columns = size = self.size
            try:
                await self._client.containers.resize_exec(self.exec_id, rows, columns)
            except EngineError as exc:
                if attempt + 1 == attempts:
                    log.debug("cannot resize exec %s: %s", self.exec_id, exc)
                    return
                await asyncio.sleep((attempt + 1) * 0.01)
            else:
                self._sent_size = size
                return

    def _changed(self) -> None:
        if self._redraw is not None or self.finished:
            return
        loop = self._loop
        if loop is None:  # not running yet: whoever draws will read the whole screen
            return
        delay = max(0.0, self._last_redraw + REDRAW_INTERVAL - loop.time())
        self._redraw = loop.call_later(delay, self._notify)

    def _notify(self) -> None:
        self._redraw = None
        if self._loop is not None:
            self._last_redraw = self._loop.time()
        dirty = frozenset(self.screen.dirty)
        self.screen.dirty.clear()
        if dirty and self.on_change is not None:
            self.on_change(dirty)

    def _cancel_redraw(self) -> None:
        if self._redraw is not None:
            self._redraw.cancel()
            self._redraw = None
