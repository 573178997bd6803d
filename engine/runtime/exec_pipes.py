"""The stdio of an exec the engine runs without conmon: plain pipes, as containerd gives a
process (the process sees ``pipe:[…]``, not a socket), read and written on the event loop.

Output is read in chunks of at most 32 KiB; reading pauses while 16 chunks wait for the client,
so a fast writer meets back-pressure instead of filling the engine's memory. When the runtime
reports the process gone, what is left in the pipes is read and the output ends, even if a
process it left in the background still holds them: conmon does the same, and a ``docker exec
c sh -c 'daemon &'`` returns.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os

from engine.runtime.attach import STDERR, STDOUT, AttachConnection, AttachFrame

_CHUNK = 32768
_HIGH_WATER = 16  # chunks queued before reading pauses
_LOW_WATER = 4  # ... and resumes
_DRAIN_MAX = 1 << 20  # per pipe, read after the process ended


class ExecPipes(AttachConnection):
    """Our ends of an exec's pipes: ``stdin`` to write (None without ``-i``), ``stdout`` and
    ``stderr`` to read. Takes ownership of the descriptors."""

    def __init__(self, stdin: int | None, stdout: int, stderr: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._stdin = stdin
        self._outputs = {stdout: STDOUT, stderr: STDERR}
        self._frames: collections.deque[AttachFrame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._stdin_ready: asyncio.Future[None] | None = None
        self._paused = False
        for fd in (stdin, stdout, stderr):
            if fd is not None:
                os.set_blocking(fd, False)
        self._watch()

    # -- output -----------------------------------------------------------------------------

    def _watch(self) -> None:
        for fd in self._outputs:
            self._loop.add_reader(fd, self._readable, fd)
        self._paused = False

    def _unwatch(self) -> None:
        for fd in self._outputs:
            self._loop.remove_reader(fd)
        self._paused = True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_output(fd)
            return
        self._frames.append(AttachFrame(self._outputs[fd], data))
        if len(self._frames) >= _HIGH_WATER:
            self._unwatch()
        self._wake()

    def _close_output(self, fd: int) -> None:
        if fd not in self._outputs:
            return
        if not self._paused:
            self._loop.remove_reader(fd)
        del self._outputs[fd]
        os.close(fd)
        self._wake()

    def process_exited(self) -> None:
        """The process is gone: take what it left in the pipes, then end the output."""
        for fd, stream in list(self._outputs.items()):
            taken = 0
            while taken < _DRAIN_MAX:
                try:
                    data = os.read(fd, _CHUNK)
                except OSError:  # BlockingIOError included: nothing left
                    break
                if not data:
                    break
                taken += len(data)
                self._frames.append(AttachFrame(stream, data))
            self._close_output(fd)

    async def read(self) -> AttachFrame | None:
        while not self._frames:
            if not self._outputs:
                return None
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frame = self._frames.popleft()
        if self._paused and self._outputs and len(self._frames) <= _LOW_WATER:
            self._watch()
        return frame

    # -- input ------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._stdin is not None:
            try:
                written = os.write(self._stdin, view)
            except BlockingIOError:
                await self._writable(self._stdin)
                continue
            except OSError:  # the process closed its stdin: what is left has no reader
                self.close_stdin()
                return
            view = view[written:]

    async def _writable(self, fd: int) -> None:
        ready = self._stdin_ready = self._loop.create_future()

        def writable() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(fd, writable)
        try:
            await ready
        finally:
            self._stdin_ready = None
            if self._stdin == fd:
                self._loop.remove_writer(fd)

    def close_stdin(self) -> None:
        fd, self._stdin = self._stdin, None
        if fd is None:
            return
        self._loop.remove_writer(fd)
        if self._stdin_ready is not None and not self._stdin_ready.done():
            self._stdin_ready.set_result(None)  # a pending write gives up
        with contextlib.suppress(OSError):
            os.close(fd)

    def close(self) -> None:
        self.close_stdin()
        for fd in list(self._outputs):
            self._close_output(fd)
