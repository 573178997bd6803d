"""Published ports on a rootless engine: host sockets opened by the outer process.

The engine's network namespace is its own, so a socket it binds there is out of the host's
reach. The outer process is still in the host's namespaces, as the user: for each published
port the engine asks it over a socket pair to open, bind and listen on the host socket, and
receives the descriptor back (``SCM_RIGHTS``). A socket keeps the namespace it was made in,
so the engine's userland proxy then accepts the host's clients on it and connects to the
container from inside, as rootlesskit's builtin port driver and slirp4netns's API do.

The outer side (``PortDriver``) opens sockets only: nothing else crosses the pair, and it
answers one request at a time. Binding as the user also keeps the kernel's rule on privileged
ports (``net.ipv4.ip_unprivileged_port_start``), which ``privileged_port_hint`` explains.
"""

from __future__ import annotations

import array
import contextlib
import errno
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The engine's end of the pair, a descriptor number in the re-executed engine's environment.
FD_MARK = "_DOCA_ROOTLESS_PORT_FD"
UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
PROTOCOLS = ("tcp", "udp", "sctp")
_MESSAGE = 4096
_FD_SPACE = socket.CMSG_SPACE(array.array("i", [0]).itemsize)


class HostSocketError(OSError):
    """Opening a host socket failed at ``stage`` (socket, bind or listen)."""

    def __init__(self, stage: str, code: int, text: str = "") -> None:
        super().__init__(code, text or os.strerror(code))
        self.stage = stage


@dataclass(frozen=True)
class SocketRequest:
    proto: str  # tcp | udp | sctp
    address: str  # an IPv4 or IPv6 literal
    port: int

    def encode(self) -> bytes:
        return json.dumps(
            {"proto": self.proto, "address": self.address, "port": self.port}
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> SocketRequest:
        """A request from the engine, checked field by field (the outer process trusts it no
        more than it must)."""
        try:
            fields: Any = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"malformed request: {exc}") from None
        if not isinstance(fields, dict):
            raise ValueError("malformed request: not an object")
        proto, address, port = fields.get("proto"), fields.get("address"), fields.get("port")
        if proto not in PROTOCOLS:
            raise ValueError(f"unknown protocol {proto!r}")
        if not isinstance(address, str):
            raise ValueError("address must be a string")
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        except OSError:
            raise ValueError(f"invalid address {address!r}") from None
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}")
        return cls(proto, address, port)


def open_host_socket(request: SocketRequest) -> socket.socket:
    """The socket a published port holds: bound, and listening for TCP and SCTP. Raises
    ``HostSocketError`` naming the step that failed."""
    family = socket.AF_INET6 if ":" in request.address else socket.AF_INET
    kind = socket.SOCK_DGRAM if request.proto == "udp" else socket.SOCK_STREAM
    number = socket.IPPROTO_SCTP if request.proto == "sctp" else 0
    try:
        sock = socket.socket(family, kind, number)
    except OSError as exc:
        raise HostSocketError("socket", exc.errno or errno.EINVAL) from None
    try:
        if request.proto == "tcp":
            # Lets a port be bound again while old connections sit in TIME_WAIT. Not for UDP:
            # there it would let us share a port another process holds the same way.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind((request.address, request.port))
        except OSError as exc:
            raise HostSocketError("bind", exc.errno or errno.EINVAL) from None
        if kind == socket.SOCK_STREAM:
            try:
                sock.listen(socket.SOMAXCONN)
            except OSError as exc:
                raise HostSocketError("listen", exc.errno or errno.EINVAL) from None
    except BaseException:
        sock.close()
        raise
    return sock


def unprivileged_port_start(path: str = UNPRIVILEGED_PORT_START) -> int:
    """The lowest port an unprivileged process may bind (1024 where the file is missing)."""
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return 1024


def privileged_port_hint(port: int, start: int) -> str:
    """What to tell a user whose port is below ``start`` (pure)."""
    return (
        f"cannot expose privileged port {port}: the rootless engine binds host ports as its "
        f"user; add 'net.ipv4.ip_unprivileged_port_start={port}' to /etc/sysctl.conf "
        f"(currently {start}), or choose a port number of {start} or more"
    )


# -- the outer process ---------------------------------------------------------------------------


def _reply(channel: socket.socket, answer: dict[str, Any], fd: int | None = None) -> None:
    data = json.dumps(answer).encode()
    ancillary = []
    if fd is not None:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())]
    channel.sendmsg([data], ancillary)


def answer(channel: socket.socket, data: bytes) -> None:
    """Open the socket ``data`` asks for and send it, or why not, back on ``channel``."""
    try:
        request = SocketRequest.decode(data)
    except ValueError as exc:
        _reply(channel, {"stage": "request", "errno": errno.EINVAL, "error": str(exc)})
        return
    try:
        sock = open_host_socket(request)
    except HostSocketError as exc:
        _reply(channel, {"stage": exc.stage, "errno": exc.errno})
        return
    with sock:
        _reply(channel, {"ok": True}, sock.fileno())


class PortDriver:
    """The outer process's side: answers the engine's requests until it closes its end."""

    def __init__(self) -> None:
        self._ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.theirs.set_inheritable(True)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve on a thread of its own (the outer process's main thread waits for the
        engine), once the engine's end has been handed to it."""
        self.theirs.close()
        self._thread = threading.Thread(target=self._serve, name="port-driver", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with self._ours:
            while True:
                try:
                    data = self._ours.recv(_MESSAGE)
                except OSError as exc:
                    log.error("port driver: %s", exc)
                    return
                if not data:
                    return  # the engine has exited
                try:
                    answer(self._ours, data)
                except OSError as exc:
                    log.error("port driver: %s", exc)
                    return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.theirs.close()
        with contextlib.suppress(OSError):
            self._ours.shutdown(socket.SHUT_RDWR)


# -- the engine ----------------------------------------------------------------------------------


class PortDriverClient:
    """The engine's side: ``open`` returns a host socket the outer process made."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> PortDriverClient | None:
        """The end the outer process handed down; taken out of the environment, so that no
        process the engine starts sees it."""
        value = os.environ.pop(FD_MARK, "")
        if not value.isdigit():
            return None
        channel = socket.socket(fileno=int(value))
        channel.set_inheritable(False)
        return cls(channel)

    def open(self, request: SocketRequest) -> socket.socket:
        """Blocking. Raises ``HostSocketError`` as ``open_host_socket`` would."""
        with self._lock:
            try:
                self._channel.send(request.encode())
                data, ancillary, _, _ = self._channel.recvmsg(_MESSAGE, _FD_SPACE)
            except OSError as exc:
                raise HostSocketError("socket", exc.errno or errno.EPIPE) from None
        fds = array.array("i")
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:
            raise HostSocketError(
                "socket", errno.EPIPE, "the rootless engine's outer process has exited"
            )
        reply = json.loads(data)
        if reply.get("ok") and len(fds) == 1:
            return socket.socket(fileno=fds[0])
        for fd in fds:
            os.close(fd)
        code = int(reply.get("errno") or errno.EINVAL)
        raise HostSocketError(str(reply.get("stage", "socket")), code, str(reply.get("error", "")))

    def close(self) -> None:
        self._channel.close()
