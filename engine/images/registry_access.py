"""Which registry endpoints a pull, push or login talks to, and falling back between them.

As dockerd does: Docker Hub pulls try ``--registry-mirror`` entries first; an insecure
registry (loopback or ``--insecure-registry``) is tried over HTTPS without checks, then over
plain HTTP. Extra CAs and client certificates come from ``certs.d`` directories.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from yarl import URL

from engine import __version__
from engine.config import EngineConfig
from engine.errors import EngineError, InvalidParameter
from engine.images.reference import DEFAULT_DOMAIN
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.endpoints import (
    DOCKER_HUB_DOMAINS,
    RegistryEndpoint,
    is_insecure,
    lookup_endpoints,
)
from engine.registry.transport import RegistryUnreachable

T = TypeVar("T")

# /etc/doca first: an entry there is meant for this engine and wins over a shared one.
CERTS_DIRS = (Path("/etc/doca/certs.d"), Path("/etc/docker/certs.d"))
USER_AGENT = f"doca/{__version__}"
INDEX_SERVER = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Candidate:
    endpoint: RegistryEndpoint
    mirror: bool = False


def certs_dir_for(host: str, dirs: Sequence[Path] = CERTS_DIRS) -> Path | None:
    """The certs.d directory that has an entry for ``host``; reads the disk."""
    for directory in dirs:
        if (directory / host).is_dir():
            return directory
    return None


def mirror_endpoint(mirror: str, insecure_registries: Sequence[str]) -> RegistryEndpoint:
    """A ``--registry-mirror`` URL as an endpoint serving Docker Hub's repositories."""
    url = URL(mirror)
    host = url.raw_authority
    insecure = url.scheme == "http" or is_insecure(host, insecure_registries)
    certs = certs_dir_for(host)
    return RegistryEndpoint(host, url.scheme, insecure, DEFAULT_DOMAIN, certs)


def candidates(domain: str, config: EngineConfig, pull: bool) -> list[Candidate]:
    """Endpoints to try for ``domain``, best first; reads certs.d (call off the loop)."""
    found: list[Candidate] = []
    if pull and domain in DOCKER_HUB_DOMAINS:
        for mirror in config.registry_mirrors:
            found.append(Candidate(mirror_endpoint(mirror, config.insecure_registries), True))
    certs = certs_dir_for(domain)
    found += [Candidate(e) for e in lookup_endpoints(domain, config.insecure_registries, certs)]
    return found


async def with_fallback(
    found: Sequence[Candidate],
    credentials: Credentials,
    attempt: Callable[[RegistryClient], Awaitable[T]],
) -> tuple[RegistryClient, T]:
    """The first endpoint where ``attempt`` succeeds, with its (open) client.

    An unreachable endpoint passes on to the next; a mirror passes on after any failure,
    since the registry itself may still have what the mirror lacks.
    """
    if not found:
        raise InvalidParameter("no registry endpoint to try")
    for position, candidate in enumerate(found):
        client = RegistryClient(candidate.endpoint, credentials, user_agent=USER_AGENT)
        try:
            return client, await attempt(client)
        except EngineError as exc:
            await client.close()
            last = position == len(found) - 1
            if last or not (candidate.mirror or isinstance(exc, RegistryUnreachable)):
                raise
        except BaseException:
            await client.close()
            raise
    raise AssertionError("unreachable")  # the loop returns or raises


async def find_candidates(domain: str, config: EngineConfig, pull: bool) -> list[Candidate]:
    return await asyncio.to_thread(candidates, domain, config, pull)


def login_domain(server_address: str) -> str:
    """The registry a ``docker login`` names: ``https://index.docker.io/v1/`` is Docker Hub."""
    address = server_address.strip() or INDEX_SERVER
    if "://" in address:
        address = URL(address).raw_authority
    address = address.split("/", 1)[0]
    if not address:
        raise InvalidParameter(f"invalid registry address {server_address!r}")
    return DEFAULT_DOMAIN if address in DOCKER_HUB_DOMAINS else address


def registry_config_info(config: EngineConfig) -> dict[str, Any]:
    """``RegistryConfig`` of ``GET /info``, as dockerd reports its registry options."""
    cidrs = ["127.0.0.0/8", "::1/128"]
    index: dict[str, Any] = {}
    mirrors = [m.rstrip("/") + "/" for m in config.registry_mirrors]
    for entry in config.insecure_registries:
        entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
        try:
            network = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            index[entry] = {"Name": entry, "Mirrors": [], "Secure": False, "Official": False}
            continue
        if network not in cidrs:
            cidrs.append(network)
    index[DEFAULT_DOMAIN] = {
        "Name": DEFAULT_DOMAIN,
        "Mirrors": mirrors,
        "Secure": True,
        "Official": True,
    }
    return {"InsecureRegistryCIDRs": cidrs, "IndexConfigs": index, "Mirrors": mirrors}
