"""Where a registry domain is reached: scheme, host and TLS settings, as dockerd decides them.

``docker.io`` is served by ``registry-1.docker.io``. Plain HTTP (and HTTPS without certificate
checks) is allowed only for loopback and for ``--insecure-registry`` entries, given as CIDRs or
``host[:port]``. Extra CAs and client certificates come from Docker's ``certs.d`` layout:
``<certs_dir>/<host[:port]>/*.crt`` and ``*.cert``/``*.key`` pairs.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidParameter

DOCKER_HUB_DOMAINS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB_HOST = "registry-1.docker.io"
# What dockerd trusts without being told: the IPv4 loopback block and ::1.
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class RegistryEndpoint:
    """One way of reaching a registry. ``host`` is ``name[:port]`` as written in URLs."""

    host: str
    scheme: str = "https"
    insecure: bool = False
    domain: str = ""  # the registry as named in image references; ``host`` when empty
    certs_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.scheme not in ("http", "https"):
            raise InvalidParameter(f"unsupported registry scheme {self.scheme!r}")
        if self.scheme == "http" and not self.insecure:
            raise InvalidParameter(
                f"plain HTTP to registry {self.host} needs it in insecure-registries"
            )

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def name(self) -> str:
        return self.domain or self.host

    @property
    def is_docker_hub(self) -> bool:
        return self.name in DOCKER_HUB_DOMAINS

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS settings for HTTPS; None for plain HTTP. Reads files: call off the loop."""
        if self.scheme != "https":
            return None
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certs_dir is not None:
            _load_certs_d(context, self.certs_dir / self.host)
        return context


def _load_certs_d(context: ssl.SSLContext, directory: Path) -> None:
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir()):
        if entry.suffix == ".crt":
            context.load_verify_locations(cafile=str(entry))
        elif entry.suffix == ".cert":
            key = entry.with_suffix(".key")
            if not key.exists():
                raise InvalidParameter(f"missing key {key.name} for client certificate {entry}")
            context.load_cert_chain(certfile=str(entry), keyfile=str(key))
        elif entry.suffix == ".key" and not entry.with_suffix(".cert").exists():
            raise InvalidParameter(f"missing client certificate {entry.stem}.cert for key {entry}")


def split_host_port(host: str) -> tuple[str, int | None]:
    """``[::1]:5000`` → (``::1``, 5000); ``example.com`` → (``example.com``, None)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    if port and not port.isdigit():
        raise InvalidParameter(f"invalid registry address {host!r}")
    return name, int(port) if port else None


def is_insecure(host: str, insecure_registries: Iterable[str] = ()) -> bool:
    """Whether ``host`` may be reached without verified TLS (dockerd's isSecureIndex, negated)."""
    name, _ = split_host_port(host)
    address = _ip(name)
    networks = list(_LOOPBACK)
    for entry in insecure_registries:
        entry = entry.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if entry.lower() in (host.lower(), name.lower()):
                return True
    if name.lower() == "localhost":
        return True
    return address is not None and any(address in network for network in networks)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def lookup_endpoints(
    domain: str, insecure_registries: Iterable[str] = (), certs_dir: Path | None = None
) -> list[RegistryEndpoint]:
    """The endpoints to try for ``domain``, in order, as dockerd's lookupV2Endpoints.

    A secure registry has one HTTPS endpoint. An insecure one is tried over HTTPS without
    certificate checks first, then over plain HTTP.
    """
    if not domain or "/" in domain:
        raise InvalidParameter(f"invalid registry domain {domain!r}")
    split_host_port(domain)  # reject malformed ports early
    if domain in DOCKER_HUB_DOMAINS:
        return [RegistryEndpoint(DOCKER_HUB_HOST, "https", False, domain, certs_dir)]
    if not is_insecure(domain, insecure_registries):
        return [RegistryEndpoint(domain, "https", False, domain, certs_dir)]
    return [
        RegistryEndpoint(domain, "https", True, domain, certs_dir),
        RegistryEndpoint(domain, "http", True, domain, certs_dir),
    ]
