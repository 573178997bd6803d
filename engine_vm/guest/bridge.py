"""The guest's end of the engine's socket: a listener on vsock or TCP that carries each
connection to the engine's unix socket, once the host has shown it knows the VM's token.

The host reaches the listener through QEMU (a vhost-vsock device, or the user-mode network's
port forward on the host's loopback). Anyone on the host can connect there, so every
connection starts with the token QEMU handed the guest privately; one without it is closed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket

from engine_vm.splice import close, splice

#: How long a new connection has to present the token.
HANDSHAKE_TIMEOUT = 10.0
VMADDR_CID_ANY = 0xFFFFFFFF

log = logging.getLogger("doca.vm.bridge")


def listening_socket(transport: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking socket for ``transport`` ("tcp" or "vsock")."""
    if transport == "vsock":
        sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        sock.bind((VMADDR_CID_ANY, port))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))  # QEMU's forward arrives on the guest's address
    sock.listen(128)
    sock.setblocking(False)
    return sock


class Bridge:
    """Serves ``sock``; each connection that presents ``token`` (then a newline) is spliced
    to the unix socket at ``engine_socket``. Owns its connection tasks."""

    def __init__(self, sock: socket.socket, token: bytes, engine_socket: str) -> None:
        self.sock = sock
        self.token = token
        self.engine_socket = engine_socket
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accepted, sock=self.sock)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                presented = await reader.readexactly(len(self.token) + 1)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            await close(writer)
            return
        if not hmac.compare_digest(presented, self.token + b"\n"):
            log.warning("closed a connection that did not present the VM's token")
            await close(writer)
            return
        try:
            engine = await asyncio.open_unix_connection(self.engine_socket)
        except OSError:
            await close(writer)  # the engine is not up (yet): the host sees the close
            return
        await splice((reader, writer), engine)
