"""conmon's k8s-file log: ``<RFC3339Nano> <stdout|stderr> <F|P> <text>`` per line.

conmon (src/ctr_logging.c) writes one line per chunk of output it reads. An ``F`` line carries
text ending in the container's newline; a ``P`` line is a piece of a longer line and gets a
newline of its own that is not part of the output. Joining the ``P`` pieces with the ``F`` line
that follows (on the same stream) gives the bytes the container wrote. A last ``P`` with no ``F``
is output that never ended in a newline. conmon writes times in local time with a numeric
offset; we keep them as integer nanoseconds since the epoch, so nothing is lost to floats.

Parsing and formatting are pure; ``read_log`` is the only I/O and polls the file (no inotify),
following a rotation (conmon renames a fresh file over the old one) when it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

STDOUT = "stdout"
STDERR = "stderr"
_TIME = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class LogRecord:
    """Output as the container wrote it; ``time_ns`` is when its first piece was logged."""

    time_ns: int
    stream: str
    data: bytes


def parse_time(text: bytes) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to nine fraction digits."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, fraction, zone = (g.decode() if g else "" for g in match.groups())
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def format_time(time_ns: int) -> str:
    """The fixed-width form conmon writes (nine digits, numeric offset), in UTC."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}+00:00"


def parse_line(line: bytes) -> tuple[int, str, bool, bytes] | None:
    """(time_ns, stream, partial, data) of one file line; None if it is not a log line.

    ``data`` of a full line ends with the newline the container wrote.
    """
    line = line.removesuffix(b"\n")
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    try:
        time_ns = parse_time(parts[0])
    except ValueError:
        return None
    partial = parts[2] == b"P"
    data = parts[3] if len(parts) == 4 else b""
    return time_ns, parts[1].decode(errors="replace"), partial, data if partial else data + b"\n"


def format_lines(time_ns: int, stream: str, data: bytes) -> bytes:
    """Log lines for one chunk of output, exactly as conmon writes them."""
    prefix = f"{format_time(time_ns)} {stream} ".encode()
    out = []
    for piece in data.splitlines(keepends=True):
        if piece.endswith(b"\n"):
            out.append(prefix + b"F " + piece)
        else:
            out.append(prefix + b"P " + piece + b"\n")
    return b"".join(out)


class Joiner:
    """Turns file lines into records, joining ``P`` pieces per stream."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, list[bytes]]] = {}

    def feed(self, line: bytes) -> LogRecord | None:
        parsed = parse_line(line)
        if parsed is None:
            return None
        time_ns, stream, partial, data = parsed
        first, pieces = self._pending.pop(stream, (time_ns, []))
        pieces.append(data)
        if partial:
            self._pending[stream] = (first, pieces)
            return None
        return LogRecord(first, stream, b"".join(pieces))

    def flush(self) -> list[LogRecord]:
        """Pieces that never got their end (the output stopped without a newline)."""
        done = [LogRecord(t, s, b"".join(p)) for s, (t, p) in self._pending.items()]
        self._pending.clear()
        return sorted(done, key=lambda record: record.time_ns)


def parse_records(data: bytes) -> list[LogRecord]:
    """Every record in a complete log text (pure)."""
    joiner = Joiner()
    records = [r for line in data.splitlines(keepends=True) if (r := joiner.feed(line))]
    return records + joiner.flush()


class _Reader:
    """Blocking reads of the log file from where the last call stopped (run in an executor)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.rest = b""  # a line conmon is still writing
        self.joiner = Joiner()

    def read_available(self) -> list[LogRecord]:
        records: list[LogRecord] = []
        while True:
            if self.file is None:
                try:
                    self.file = open(self.path, "rb")  # noqa: SIM115 - kept open across calls
                except FileNotFoundError:
                    return records
            chunk = self.file.read(_CHUNK)
            if chunk:
                lines = (self.rest + chunk).split(b"\n")
                self.rest = lines.pop()
                records.extend(r for line in lines if (r := self.joiner.feed(line)))
            elif _rotated(self.path, self.file.fileno()):
                self.close()  # the old file is drained; go on with the new one
            else:
                return records

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file, self.rest = None, b""


def _rotated(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


async def read_log(
    path: Path,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    tail: int | None = None,
    follow: bool = False,
    exited: asyncio.Event | None = None,
    poll_interval: float = 0.1,
) -> AsyncIterator[LogRecord]:
    """Records of a container's log, optionally following it until ``exited`` is set.

    As dockerd does, ``tail`` picks the last N records that exist now, and ``since``/``until``
    then filter. Following ends once ``exited`` is set and the file is drained (conmon writes
    the exit file after its last log line), or at the first record later than ``until_ns``.
    A missing file reads as empty: it may not exist yet.
    """
    loop = asyncio.get_running_loop()
    reader = _Reader(path)
    first = True
    try:
        while True:
            done = not follow or (exited is not None and exited.is_set())
            records = await loop.run_in_executor(None, reader.read_available)
            if done:
                records += reader.joiner.flush()
            if first and tail is not None:
                records = records[len(records) - tail :] if tail > 0 else []
            first = False
            for record in records:
                if until_ns is not None and record.time_ns > until_ns:
                    return
                if since_ns is None or record.time_ns >= since_ns:
                    yield record
            if done:
                return
            if exited is None:
                await asyncio.sleep(poll_interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exited.wait(), poll_interval)
    finally:
        reader.close()
