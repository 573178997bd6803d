"""Running the registry: checking where it may listen, binding, serving until a signal."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from engine.errors import InvalidParameter
from engine.registry_server.app import create_app
from engine.registry_server.htpasswd import Htpasswd
from engine.registry_server.state import RegistryState

log = logging.getLogger(__name__)

DEFAULT_REALM = "Doca Registry"


@dataclass(frozen=True)
class ServeConfig:
    root: Path
    host: str
    port: int
    htpasswd: Path | None = None
    insecure_open: bool = False
    realm: str = DEFAULT_REALM


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``; an empty host means every interface."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InvalidParameter(f"invalid listen address {addr!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` stands for is a loopback address; blocking (DNS)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos
    )


def check_exposure(config: ServeConfig) -> None:
    """Without accounts the registry is open to anyone who can reach it; keep that local
    unless the operator says otherwise."""
    if config.htpasswd is None and not config.insecure_open and not is_loopback(config.host):
        raise InvalidParameter(
            f"refusing to serve an open registry on {config.host or 'all interfaces'}: "
            "give --htpasswd, listen on a loopback address, or pass --insecure-open"
        )


async def serve(
    config: ServeConfig, stop: asyncio.Event, started: Callable[[str, int], None]
) -> None:
    """Serve until ``stop`` is set; ``started`` gets the bound host and port."""
    check_exposure(config)
    users = await asyncio.to_thread(Htpasswd.load, config.htpasswd) if config.htpasswd else None
    state = await asyncio.to_thread(RegistryState.open, config.root, users, config.realm)
    runner = web.AppRunner(create_app(state))
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.host or None, config.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        started(str(host), int(port))
        await stop.wait()
    finally:
        await runner.cleanup()


def run(config: ServeConfig, started: Callable[[str, int], None]) -> None:
    """Serve in a fresh event loop until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(config, stop, started)

    asyncio.run(main())
