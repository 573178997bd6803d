"""The host's end of the engine's socket: a unix socket at the path the user asked for, each
connection carried to the guest over vsock or QEMU's loopback port forward.

Every connection to the guest starts with the VM's token and a newline (see
``engine_vm.guest.bridge``), then carries the client's bytes unchanged both ways, hijacked
attach/exec streams and endless event/log streams included (``engine_vm.splice``).

On Windows the engine's address is a named pipe; ``serve_named_pipe`` is where that goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine_vm.splice import Stream, close, splice

CONNECT_TIMEOUT = 10.0

log = logging.getLogger("doca.vm.forward")

Connector = Callable[[], Awaitable[Stream]]


def tcp_connector(port: int, host: str = "127.0.0.1") -> Connector:
    """Connections to QEMU's port forward on the host's loopback."""

    async def connect() -> Stream:
        return await asyncio.open_connection(host, port)

    return connect


def vsock_connector(cid: int, port: int) -> Connector:
    """Connections to the guest's vsock port through the host's vhost-vsock device."""

    async def connect() -> Stream:
        sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (cid, port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    return connect


class Forwarder:
    """Serves ``path``; owns the tasks of its connections and cancels them on ``stop``."""

    def __init__(self, path: Path, connect: Connector, token: bytes) -> None:
        self.path = path
        self.connect = connect
        self.token = token
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a VM that died; control checked none answers
        # Only this user may reach the engine: it is root inside the VM.
        old = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._accepted, path=str(self.path))
        finally:
            os.umask(old)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._carry((reader, writer)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _carry(self, client: Stream) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                guest = await self.connect()
                guest[1].write(self.token + b"\n")
                await guest[1].drain()
        except (OSError, TimeoutError) as exc:
            log.debug("the guest did not take a connection: %s", exc)
            await close(client[1])
            return
        await splice(client, guest)


async def serve_named_pipe(name: str, connect: Connector, token: bytes) -> None:
    """Windows: serve ``\\\\.\\pipe\\<name>`` like ``Forwarder`` serves a unix socket (the
    proactor loop's ``start_serving_pipe``), each client spliced to ``connect()``."""
    raise NotImplementedError("named pipes are served on Windows only, and not yet")
