"""Progress of pull, push, load and build on a terminal.

The engine's JSON progress messages are folded into rows the way jsonmessage's terminal display
keeps them (one line per ID, redrawn in place, until a message without progress ends that group),
and drawn with rich: rows still changing live at the bottom with a bar, byte counts and a speed;
rows that will not change again, and plain lines, printed once above them. Off a terminal the
docker CLI's line-per-message output (``progress_line``) is kept byte for byte.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from doca.cli.formatting import human_size

# Statuses after which a layer's row never changes again.
FINISHED = frozenset({"Pull complete", "Already exists", "Pushed", "Layer already exists"})
_STEP = re.compile(r"Step \d+/\d+ : ")
Clock = Callable[[], float]


def progress_line(message: Mapping[str, Any]) -> str | None:
    """What jsonmessage prints for one engine message when stdout is not a terminal: None for
    aux messages and for progress bars, which only a terminal shows."""
    if "aux" in message:
        return None
    detail = message.get("progressDetail")
    if isinstance(detail, dict) and (
        int(detail.get("current") or 0) > 0 or int(detail.get("total") or 0) > 0
    ):
        return None
    line = f"{message['id']}: " if message.get("id") else ""
    if message.get("from"):
        line += f"(from {message['from']}) "
    if message.get("stream"):
        return line + str(message["stream"])
    return line + str(message.get("status") or "") + "\n"


def live_display_wanted(quiet: bool = False) -> bool:
    """Whether progress is drawn live: on a terminal that takes cursor moves and colour, unless
    the command is quiet."""
    return (
        not quiet
        and sys.stdout.isatty()
        and os.environ.get("TERM") != "dumb"
        and not os.environ.get("NO_COLOR")
    )


@dataclass(frozen=True)
class Row:
    """One ID's line (a layer, mostly) as the last message about it left it."""

    id: str
    status: str
    current: int = 0
    total: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED or self.status.startswith("Mounted from ")

    def sizes(self) -> str:
        """Bytes done (and of how many) as jsonmessage counts them; "" without a count."""
        if self.total > 0 and self.current <= self.total:
            return f"{human_size(self.current, 4)}/{human_size(self.total, 4)}"
        return human_size(self.current, 4) if self.current > 0 else ""

    def text(self) -> str:
        """The row's last state as one plain line."""
        sizes = self.sizes()
        return f"{self.id}: {self.status}" + (f"  {sizes}" if sizes else "")


@dataclass(frozen=True)
class Line:
    """Text shown once as it came: a status without progress, or a build's ``stream``."""

    text: str


Entry = Row | Line


@dataclass(frozen=True)
class Board:
    """What a progress stream has shown so far: the rows still open to change, the build step
    running (``Step N/M : …``), the ``aux`` payloads and the stream's error."""

    rows: tuple[Row, ...] = ()
    step: str = ""
    aux: tuple[Any, ...] = ()
    error: str = ""


def fold(board: Board, message: Mapping[str, Any]) -> tuple[Board, tuple[Entry, ...]]:
    """The board after ``message``, and the entries it settled (to print once, in order).

    As jsonmessage on a terminal: a message with an ID and progress (``progressDetail`` or
    ``progress``) updates that ID's row in place, or adds one; any other message is a plain
    line, and closes the rows before it. Rows at the head that reached a final status settle
    at once, so the live part stays short and keeps the stream's order."""
    if "aux" in message:
        return replace(board, aux=(*board.aux, message["aux"])), ()
    detail = message.get("errorDetail")
    error = message.get("error") or (detail.get("message") if isinstance(detail, dict) else "")
    if error:
        return replace(board, error=str(error)), ()
    ident, counts = str(message.get("id") or ""), message.get("progressDetail")
    if ident and (isinstance(counts, dict) or message.get("progress")):
        counts = counts if isinstance(counts, dict) else {}
        row = Row(ident, str(message.get("status") or ""),
                  int(counts.get("current") or 0), int(counts.get("total") or 0))  # fmt: skip
        rows = list(board.rows)
        at = next((i for i, old in enumerate(rows) if old.id == ident), None)
        if at is None:
            rows.append(row)
        else:
            rows[at] = row
        done = 0
        while done < len(rows) and rows[done].finished:
            done += 1
        return replace(board, rows=tuple(rows[done:])), tuple(rows[:done])
    text = progress_line(message)
    if text is None:  # a byte count without an ID: nothing jsonmessage would keep
        return board, ()
    step = text.partition("\n")[0].rstrip("\r") if _STEP.match(text) else board.step
    return replace(board, rows=(), step=step), (*board.rows, Line(text))


def fold_all(messages: Iterable[Mapping[str, Any]]) -> tuple[Board, list[Entry]]:
    """The board after every message, and every entry settled on the way."""
    board = Board()
    settled: list[Entry] = []
    for message in messages:
        board, done = fold(board, message)
        settled.extend(done)
    return board, settled


# -- drawing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Phase:
    """Where a row's current status began: its speed is counted from there."""

    status: str
    started: float
    start_bytes: int


@dataclass(frozen=True)
class _Ticking:
    """Text worked out from the time at each redraw: a speed falls while a transfer stalls,
    and a step's time runs on while it prints nothing."""

    text: Callable[[float], str]
    clock: Clock
    style: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.text(self.clock()), style=self.style)


def _speed(phase: _Phase, current: int, now: float) -> str:
    elapsed, done = now - phase.started, current - phase.start_bytes
    return f"{human_size(done / elapsed, 4)}/s" if elapsed > 0.2 and done > 0 else ""


def _status(row: Row) -> Text:
    return Text(row.status, style="green" if row.finished else "")


class LiveProgress:
    """Draws a progress stream on a terminal; a context manager whose exit prints what was
    still live, so the scrollback ends as jsonmessage's screen would. The live part starts
    with the first message and is erased when done."""

    def __init__(
        self, console: Console | None = None, clock: Clock = time.monotonic,
        auto_refresh: bool = True,
    ) -> None:  # fmt: skip
        self.console = console or Console(highlight=False)
        self.board = Board()
        self._clock = clock
        # stderr stays where it goes: it may be a file while stdout is the terminal.
        self._live = Live(console=self.console, auto_refresh=auto_refresh, transient=True,
                          refresh_per_second=10, redirect_stderr=False)  # fmt: skip
        self._phases: dict[str, _Phase] = {}
        self._step_started = 0.0
        self._partial = ""  # stream text after its last newline

    def __enter__(self) -> LiveProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def feed(self, message: Mapping[str, Any]) -> None:
        """Show one engine message."""
        if not self._live.is_started:
            self._live.start()
        step = self.board.step
        self.board, settled = fold(self.board, message)
        if self.board.step != step:
            self._step_started = self._clock()
        self._track(self.board.rows)
        lines = self._lines(settled)
        # Redrawn at once when lines go above it, which would show a stale live part; byte
        # counts wait for the next periodic refresh.
        self._live.update(self.renderable(), refresh=bool(settled))
        for line in lines:
            self._emit(line)

    def close(self) -> None:
        """Stop drawing; rows still open and a partial line are printed as they stand."""
        lines = self._lines(self.board.rows)
        if self._partial:
            lines.append(self._partial)
            self._partial = ""
        self.board = replace(self.board, rows=(), step="")
        if self._live.is_started:
            self._live.update(Group())
            self._live.stop()
        for line in lines:
            self._emit(line)

    def renderable(self) -> RenderableType:
        """The live part: a line the build has begun but not ended, open rows (bar, sizes and
        speed while bytes move) and the running build step with a spinner and its time."""
        parts: list[RenderableType] = [Text.from_ansi(self._partial)] if self._partial else []
        if self.board.rows:
            table = Table.grid(padding=(0, 1))
            for width in (None, None, 30, None, 10):
                table.add_column(width=width, no_wrap=True)
            for row in self.board.rows:
                bar: RenderableType = ""
                if row.total > 0:
                    bar = ProgressBar(row.total, min(row.current, row.total), width=30)
                speed = _Ticking(partial(_speed, self._phases[row.id], row.current), self._clock)
                table.add_row(f"{row.id}:", _status(row), bar, row.sizes(),
                              speed if row.sizes() else "")  # fmt: skip
            parts.append(table)
        if self.board.step:
            step = Table.grid(padding=(0, 1))
            started = self._step_started
            elapsed = _Ticking(lambda now: f"{now - started:.1f}s", self._clock, "dim")
            step.add_row(Spinner("dots", style="cyan"), Text(self.board.step), elapsed)
            parts.append(step)
        return Group(*parts)

    def _track(self, rows: Iterable[Row]) -> None:
        """Restart a row's speed when its status changes (downloaded, then extracted) or its
        count goes back; forget rows no longer shown."""
        phases = {}
        for row in rows:
            phase = self._phases.get(row.id)
            if phase is None or phase.status != row.status or row.current < phase.start_bytes:
                phase = _Phase(row.status, self._clock(), row.current)
            phases[row.id] = phase
        self._phases = phases

    def _lines(self, entries: Iterable[Entry]) -> list[str | Text]:
        """The whole lines of ``entries`` to print, in order; a stream's unended text is kept
        back until its newline comes, or a row is printed after it."""
        lines: list[str | Text] = []
        for entry in entries:
            if isinstance(entry, Line):
                *ended, self._partial = (self._partial + entry.text).split("\n")
                lines.extend(ended)
                continue
            if self._partial:
                lines.append(self._partial)
                self._partial = ""
            lines.append(Text.assemble(f"{entry.id}: ", _status(entry),
                                       f"  {entry.sizes()}" if entry.sizes() else ""))  # fmt: skip
        return lines

    def _emit(self, line: str | Text) -> None:
        """One line above the live part; a build's own output keeps its colours, and of a line
        redrawn with carriage returns only its last state."""
        text = Text.from_ansi(line) if isinstance(line, str) else line
        self.console.print(text, soft_wrap=True)
