"""Where the API listens and who may connect.

``-H`` addresses read as dockerd reads them. Whoever reaches the API has root on this machine,
so a ``tcp://`` listener needs TLS with client certificates (``--tlsverify``), unless it is a
loopback address and ``--insecure-tcp`` says so. Every listener serves aiohttp's protocol
behind the bounds of ``engine.connection_limits``; a TLS handshake gets the header timeout too.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from engine.activation import activated_fds, activated_sockets
from engine.config import EngineConfig
from engine.connection_limits import bounded_protocol
from engine.errors import InvalidParameter
from engine.paths import DEFAULT_SOCKET
from engine.tls import tls_protocol

log = logging.getLogger("doca.engine")

DEFAULT_HTTP_PORT = 2375  # IANA's ports for Docker, as docker's opts default them
DEFAULT_TLS_PORT = 2376
DEFAULT_TCP_HOST = "localhost"  # dockerd's, for tcp:// without a host
BACKLOG = 128


@dataclass(frozen=True)
class Address:
    """One ``-H`` address: ``unix`` with a path, ``tcp`` with host and port, ``fd`` with the
    descriptor systemd passed (``path`` empty for all of them)."""

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp://{host}:{self.port}"
        return f"{self.scheme}://{self.path}"


def parse_host(value: str, tls: bool) -> Address:
    """``-H`` as dockerd's ParseDaemonHost reads it; a bare ``/path`` is a unix socket, as the
    docker CLI takes it, and any other bare address tcp."""
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = ("unix" if text.startswith(("/", "./")) else "tcp"), text
    if scheme == "unix":
        if "://" in rest:
            raise InvalidParameter(f"invalid bind address ({value}): invalid unix address")
        return Address("unix", path=rest or DEFAULT_SOCKET.removeprefix("unix://"))
    if scheme == "fd":
        return Address("fd", path=rest)
    if scheme != "tcp":
        raise InvalidParameter(f"invalid bind address ({value}): unsupported proto '{scheme}'")
    try:
        url = urlsplit(f"tcp://{rest}")
        port = url.port
    except ValueError as exc:
        raise InvalidParameter(f"invalid bind address ({value}): {exc}") from exc
    if url.path or url.query or url.fragment or url.username is not None:
        raise InvalidParameter(f"invalid bind address ({value}): should not contain a path element")
    if port == 0:
        raise InvalidParameter(f"invalid bind address ({value}): invalid port: 0")
    default_port = DEFAULT_TLS_PORT if tls else DEFAULT_HTTP_PORT
    return Address("tcp", host=url.hostname or DEFAULT_TCP_HOST, port=port or default_port)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_tcp(address: Address, config: EngineConfig) -> None:
    """Refuse a tcp listener that would serve clients nobody authenticated."""
    if config.tls_verify or (config.insecure_tcp and is_loopback(address.host)):
        return
    raise InvalidParameter(
        f"refusing to listen on {address} without TLS client verification (--tlsverify): it "
        "would give root access on this machine to everyone who can reach it; use --tlsverify "
        "with --tlscacert, --tlscert and --tlskey, or a loopback address with --insecure-tcp"
    )


def check_hosts(config: EngineConfig) -> list[Address]:
    """The addresses ``-H`` names, each refused before the engine touches anything."""
    addresses = [parse_host(host, config.tls_enabled) for host in config.hosts]
    for address in addresses:
        if address.scheme == "tcp":
            check_tcp(address, config)
        elif address.scheme == "fd":
            activated_fds(str(address))  # refuses fd:// without sockets from systemd
    return addresses


class Listeners:
    """The engine's open API sockets; ``close`` stops them accepting (the runner then closes
    the connections)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        config: EngineConfig,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._factory = factory
        self._config = config
        self._ssl = ssl_context
        self._servers: list[asyncio.AbstractServer] = []
        self._socket_files: list[tuple[Path, int]] = []  # path and inode of each we bound

    async def open(self, address: Address) -> None:
        if address.scheme == "unix":
            await self._open_unix(Path(address.path))
        elif address.scheme == "tcp":
            await self._open_tcp(address)
        else:
            for sock in activated_sockets(str(address)):
                await self._open_activated(sock)

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()
        # As dockerd does: no stale socket file left for clients to find. Only our own: a
        # newer engine may have replaced it meanwhile.
        for path, inode in self._socket_files:
            with contextlib.suppress(OSError):
                if path.lstat().st_ino == inode:
                    path.unlink()
        self._socket_files.clear()

    def _protocol(
        self, name: str, context: ssl.SSLContext | None = None
    ) -> Callable[[], asyncio.BaseProtocol]:
        bounded = bounded_protocol(name, self._factory, self._config)
        if context is None:
            return bounded
        return tls_protocol(bounded, context, self._config.api_header_timeout)

    async def _open_unix(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        loop = asyncio.get_running_loop()
        protocol = self._protocol(f"unix://{path}")
        self._servers.append(await loop.create_unix_server(protocol, str(path), backlog=BACKLOG))
        os.chmod(path, 0o660)
        self._socket_files.append((path, path.lstat().st_ino))
        with contextlib.suppress(KeyError, PermissionError):
            os.chown(path, -1, grp.getgrnam(self._config.group).gr_gid)
        log.info("API listening on %s", path)

    async def _open_tcp(self, address: Address) -> None:
        check_tcp(address, self._config)
        loop = asyncio.get_running_loop()
        context = self._ssl if self._config.tls_enabled else None
        server = await loop.create_server(
            self._protocol(str(address), context),
            address.host,
            address.port,
            backlog=BACKLOG,
            reuse_address=True,
        )
        self._servers.append(server)
        self._log_tcp(str(address), context)

    async def _open_activated(self, sock: socket.socket) -> None:
        name = f"fd://{sock.fileno()}"
        context = None
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # systemd bound it; it gets the same TLS and the same refusal as a tcp:// host.
            host, port = sock.getsockname()[:2]
            check_tcp(Address("tcp", host=host, port=port), self._config)
            context = self._ssl if self._config.tls_enabled else None
        loop = asyncio.get_running_loop()
        protocol = self._protocol(name, context)
        self._servers.append(await loop.create_server(protocol, sock=sock, backlog=BACKLOG))
        if sock.family == socket.AF_UNIX:
            log.info("API listening on %s (socket activation)", sock.getsockname())
        else:
            self._log_tcp(f"{name} {sock.getsockname()}", context)

    def _log_tcp(self, name: str, context: ssl.SSLContext | None) -> None:
        if context is not None and context.verify_mode == ssl.CERT_REQUIRED:
            log.info("API listening on %s (TLS, clients need a certificate)", name)
        elif context is not None:
            log.warning(
                "API listening on %s with TLS but without verifying clients (--tlsverify=false,"
                " --insecure-tcp): every local user can reach it, with root access on this machine",
                name,
            )
        else:
            log.warning(
                "API listening on %s without TLS (loopback, --insecure-tcp): every local user, "
                "and scripts run in a browser, can reach it and have root access on this machine",
                name,
            )
