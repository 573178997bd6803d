"""Client for conmon's attach socket and ``ctl`` FIFO (conmon 2.1: src/conn_sock.c, src/ctrl.c).

With ``--full-attach`` conmon listens on ``<bundle>/attach`` (AF_UNIX, SOCK_SEQPACKET). Every
packet it sends starts with one byte naming the stream — 2 for stdout, 3 for stderr (its
``stdpipe_t``) — followed by at most 8192 bytes of output. What we send is raw stdin, one read
of at most 32768 bytes per packet on conmon's side, so larger writes are split. Shutting down our
write side is how stdin is closed: conmon then closes the container's stdin unless it runs with
``--leave-stdin-open``.

Resize goes through the ``<bundle>/ctl`` FIFO as ``1 <height> <width>\\n``; ``2 0 0\\n`` makes
conmon reopen its log file.

sun_path holds 107 bytes; a longer socket path is reached through ``/proc/self/fd/<dirfd>``,
as conmon itself binds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from engine.runtime.oci import RuntimeFailure

#: Docker's stream numbers (as in stdcopy frames); conmon's markers are one higher.
STDOUT = 1
STDERR = 2

_CONMON_STDOUT = 2
_CONMON_STDERR = 3
_MAX_IN_PACKET = 32768  # conmon's CONN_SOCK_BUF_SIZE: a longer packet would be truncated
_MAX_OUT_PACKET = 8192 + 1  # STDIO_BUF_SIZE plus the stream byte
_SUN_PATH_MAX = 107

_WIN_RESIZE_EVENT = 1
_REOPEN_LOGS_EVENT = 2


@dataclass(frozen=True)
class AttachFrame:
    """A chunk of container output; ``stream`` uses Docker's numbering (1 out, 2 err)."""

    stream: int
    data: bytes


class AttachConnection:
    """A container's (or exec session's) stdio as the engine holds it: output frames to read,
    stdin to write. conmon's attach socket is one kind (:meth:`connect`); an exec run without
    conmon hands its pipes over as another (``engine.runtime.exec_pipes``)."""

    @staticmethod
    async def connect(path: Path) -> AttachConnection:
        """Connect to conmon's attach socket at ``path``."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            if len(os.fsencode(path)) <= _SUN_PATH_MAX:
                await loop.sock_connect(sock, str(path))
            else:
                dirfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
                try:
                    await loop.sock_connect(sock, f"/proc/self/fd/{dirfd}/{path.name}")
                finally:
                    os.close(dirfd)
        except OSError as exc:
            sock.close()
            raise RuntimeFailure(f"cannot connect to attach socket {path}: {exc}") from exc
        return AttachSocket(sock)

    async def write(self, data: bytes) -> None:
        """Send bytes to the process's stdin."""
        raise NotImplementedError

    def close_stdin(self) -> None:
        """Signal EOF on stdin; output keeps flowing until the process closes it."""
        raise NotImplementedError

    async def read(self) -> AttachFrame | None:
        """The next chunk of output, or None once there is no more."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __aiter__(self) -> AttachConnection:
        return self

    async def __anext__(self) -> AttachFrame:
        frame = await self.read()
        if frame is None:
            raise StopAsyncIteration
        return frame

    async def __aenter__(self) -> AttachConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class AttachSocket(AttachConnection):
    """One connection to conmon's attach socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(data), _MAX_IN_PACKET):
            await loop.sock_sendall(self._sock, data[start : start + _MAX_IN_PACKET])

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    async def read(self) -> AttachFrame | None:
        """The next chunk of output, or None once conmon closes the connection."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                packet = await loop.sock_recv(self._sock, _MAX_OUT_PACKET + 64)
            except ConnectionResetError:
                return None
            if not packet:
                return None
            marker, data = packet[0], packet[1:]
            if marker == _CONMON_STDOUT:
                return AttachFrame(STDOUT, data)
            if marker == _CONMON_STDERR:
                return AttachFrame(STDERR, data)
            # Unknown markers are skipped, as podman does.

    def close(self) -> None:
        self._sock.close()


def _write_ctl(ctl: Path, line: str) -> None:
    # Non-blocking open fails with ENXIO when no conmon reads the FIFO (it has exited).
    try:
        fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            raise RuntimeFailure(f"container monitor is not running ({ctl})") from exc
        raise RuntimeFailure(f"cannot open {ctl}: {exc}") from exc
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def resize(ctl: Path, height: int, width: int) -> None:
    """Resize the container's TTY (a no-op for containers without one)."""
    _write_ctl(ctl, f"{_WIN_RESIZE_EVENT} {height} {width}\n")


def reopen_logs(ctl: Path) -> None:
    """Make conmon reopen its log file, e.g. after it was rotated away."""
    _write_ctl(ctl, f"{_REOPEN_LOGS_EVENT} 0 0\n")
