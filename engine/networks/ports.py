"""Published ports: what ``HostConfig.PortBindings`` and ``PublishAllPorts`` ask for, the host
ports this engine holds for running containers, and ``NetworkSettings.Ports`` as dockerd shows it.

The NAT itself is the firewall's business (``nftables.py``). The engine still binds every
published host port, as dockerd does: the bound socket is what reserves the port, what reports
"address already in use" when another process has it, and what the userland proxy
(``proxy.py``) serves when nftables is not there.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import random
import re
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidParameter, SystemError_
from engine.rootless.port_driver import (
    HostSocketError,
    SocketRequest,
    open_host_socket,
    privileged_port_hint,
    unprivileged_port_start,
)

PROTOCOLS = ("tcp", "udp", "sctp")
ANY_ADDRESS = {4: "0.0.0.0", 6: "::"}
# dockerd's fallback when the kernel's ephemeral range cannot be read
DEFAULT_PORT_RANGE = (49153, 65535)
EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"

_DIGITS = re.compile(r"[0-9]{1,5}")  # bounded: int() of a huge digit string is slow or refused
# errors of an implicit "::" binding that mean the host has no usable IPv6
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


SocketOpener = Callable[[SocketRequest], socket.socket]


@dataclass(frozen=True)
class PortSpec:
    """One published port as the user asked for it."""

    proto: str  # tcp | udp | sctp
    container_port: int
    host_ip: str  # "" = all addresses
    host_port_low: int  # 0 = random
    host_port_high: int  # == low unless a range


@dataclass(frozen=True)
class PortBinding:
    """One host socket the engine bound for a container."""

    proto: str
    container_port: int
    host_ip: str  # the address bound: "0.0.0.0" / "::" for all, or the given one
    host_port: int


# -- what the user asked for --------------------------------------------------------------------


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # as Go's %q shows it


def _port_number(text: str) -> int | None:
    if not _DIGITS.fullmatch(text) or int(text) > 65535:
        return None
    return int(text)


def _container_port(key: Any) -> tuple[int, str]:
    """(port, proto) of a ``"80/tcp"`` key, validated as dockerd's create does."""
    if not isinstance(key, str):
        raise InvalidParameter(f"invalid port specification: {_quote(str(key))}")
    text, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    port = _port_number(text)
    if not port:
        raise InvalidParameter(f"invalid port specification: {_quote(text)}")
    if proto not in PROTOCOLS:
        raise InvalidParameter(f"invalid proto: {proto}")
    return port, proto


def _host_ip(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidParameter("invalid JSON: HostIp must be a string")
    try:
        if "%" in value:  # Go's net.ParseIP takes no zone, nor do the bind paths here
            raise ValueError(value)
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidParameter(f"invalid IP address: {value}") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # dockerd unmaps ::ffff:a.b.c.d
    return str(address)


def _host_ports(value: Any) -> tuple[int, int]:
    if value is None or value == "":
        return 0, 0
    if not isinstance(value, str):
        raise InvalidParameter("invalid JSON: HostPort must be a string")
    low_text, dash, high_text = value.partition("-")
    low = _port_number(low_text)
    high = _port_number(high_text if dash else low_text)
    if low is None or high is None or high < low or (low == 0 and high != 0):
        raise InvalidParameter(f"invalid port specification: {_quote(value)}")
    return low, high


def exposed_ports(exposed: Any) -> list[tuple[int, str]]:
    """The readable ``(port, proto)`` keys of a stored ``Config.ExposedPorts``; others are
    skipped (images may carry anything there, and dockerd ignores what it cannot read)."""
    if not isinstance(exposed, dict):
        return []
    result = []
    for key in exposed:
        try:
            result.append(_container_port(key))
        except InvalidParameter:
            continue
    return result


def _order(spec: PortSpec) -> tuple[bool, int, int, int, int, str]:
    # As dockerd: exact host ports first, so one inside a range asked for elsewhere is not
    # taken by that range before its own turn.
    exact = spec.host_port_low != 0 and spec.host_port_low == spec.host_port_high
    return (
        not exact,
        spec.container_port,
        PROTOCOLS.index(spec.proto),
        spec.host_port_low,
        spec.host_port_high,
        spec.host_ip,
    )


def parse_port_bindings(
    port_bindings: dict[str, Any] | None, exposed: dict[str, Any] | None, publish_all: bool
) -> list[PortSpec]:
    """The ports to publish, in the order they are bound; InvalidParameter on bad input.

    ``publish_all`` (``-P``) adds a random host port on all addresses for every exposed port
    that has no binding of its own.
    """
    if port_bindings is None:
        port_bindings = {}
    if not isinstance(port_bindings, dict):
        raise InvalidParameter("invalid JSON: PortBindings must be an object")
    specs: list[PortSpec] = []
    keys: dict[tuple[int, str], bool] = {}  # every key given, and whether it has bindings
    for key, entries in port_bindings.items():
        port, proto = _container_port(key)
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise InvalidParameter(f"invalid JSON: PortBindings[{_quote(key)}] must be a list")
        for entry in entries:
            if entry is None:
                entry = {}  # Go decodes null as an empty binding: any address, random port
            if not isinstance(entry, dict):
                raise InvalidParameter("invalid JSON: a port binding must be an object")
            low, high = _host_ports(entry.get("HostPort"))
            specs.append(PortSpec(proto, port, _host_ip(entry.get("HostIp")), low, high))
        keys[(port, proto)] = keys.get((port, proto), False) or bool(entries)
    if publish_all:
        for port, proto in [*exposed_ports(exposed), *keys]:
            if not keys.get((port, proto)):
                keys[(port, proto)] = True
                specs.append(PortSpec(proto, port, "", 0, 0))
    return sorted(specs, key=_order)


def validate_port_bindings(port_bindings: Any) -> None:
    """The checks of ``parse_port_bindings`` at container create, without a result."""
    parse_port_bindings(port_bindings, None, False)


# -- what the engine holds ----------------------------------------------------------------------


def ephemeral_port_range(path: str = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's ephemeral port range, where dockerd picks random host ports."""
    try:
        with open(path, encoding="ascii") as file:
            low, high = (int(word) for word in file.read().split()[:2])
    except (OSError, ValueError):
        return DEFAULT_PORT_RANGE
    if not 0 < low <= high <= 65535:
        return DEFAULT_PORT_RANGE
    return low, high


def ipv6_listenable() -> bool:
    """Whether the host has IPv6 to listen on (dockerd's check: bind ``[::1]:0``)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


class _PortError(Exception):
    """Why a port could not be held, in dockerd's words (wrapped by ``PortAllocator.bind``)."""

    def __init__(self, text: str, code: int | None = None) -> None:
        super().__init__(text)
        self.errno = code or 0


def _go_error(exc: OSError) -> str:
    text = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return text[:1].lower() + text[1:]  # Go spells errno texts in lower case


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _describe(spec: PortSpec, address: str, container_ip: str) -> str:
    """libnetwork's ``PortBinding.String()``: host-ip:host-port:container-ip:port/proto."""
    text = f"{_bracket(address)}:"
    if spec.host_port_low:
        text += str(spec.host_port_low)
        if spec.host_port_high != spec.host_port_low:
            text += f"-{spec.host_port_high}"
    text += ":"
    if container_ip:
        text += f"{_bracket(container_ip)}:"
    return f"{text}{spec.container_port}/{spec.proto}"


def _container_ip(container_ips: Sequence[str], address: str) -> str:
    version = ipaddress.ip_address(address).version
    same = [ip for ip in container_ips if ipaddress.ip_address(ip).version == version]
    return (same or list(container_ips) or [""])[0]


def _open_socket(
    opener: SocketOpener, spec: PortSpec, address: str, port: int, container_ip: str
) -> socket.socket:
    what = _describe(spec, address, container_ip)
    try:
        return opener(SocketRequest(spec.proto, address, port))
    except HostSocketError as exc:
        error = _go_error(exc)
        if exc.stage == "bind":
            exact = spec.host_port_low == spec.host_port_high
            where = "" if exact else f" {port}"
            if exc.errno == errno.EACCES and port < (start := unprivileged_port_start()):
                error = privileged_port_hint(port, start)
            text = f"failed to bind host port{where} for {what}: {error}"
        elif exc.stage == "listen":
            text = f"failed to listen on {spec.proto} socket: {error}"
        else:
            text = f"failed to create socket for userland proxy for {what}: {error}"
        raise _PortError(text, exc.errno) from None


Bound = list[tuple[PortBinding, socket.socket]]


class PortAllocator:
    """Host ports this engine holds, shared by all containers. Random ports come from the host's
    ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), as dockerd does."""

    def __init__(
        self, port_range: tuple[int, int] | None = None, opener: SocketOpener | None = None
    ) -> None:
        self.port_range = port_range or ephemeral_port_range()
        # Where host sockets come from: this process, or a rootless engine's outer process.
        # Sockets of the outer process live in the host's network namespace, where this
        # engine's firewall does not reach: the userland proxy serves every one of them.
        self.opener: SocketOpener = opener or open_host_socket
        self.outside = opener is not None
        self._lock = threading.Lock()
        self._held: dict[str, Bound] = {}
        self._taken: dict[tuple[str, int], dict[str, str]] = {}  # (proto, port) → address → owner
        self._cursor: dict[str, int] = {}  # last random port handed out, per protocol

    def bind(
        self,
        owner: str,
        specs: Sequence[PortSpec],
        endpoint_name: str = "",
        *,
        endpoint_id: str = "",
        container_ips: Sequence[str] = (),
    ) -> Bound:
        """Bind every spec for ``owner`` (blocking), all or nothing.

        HostIp "" binds both 0.0.0.0 and :: (same port) when the host has IPv6. TCP sockets
        listen. ``endpoint_name``/``endpoint_id`` (the owner by default) and the container's
        addresses only shape the error, which is dockerd's.
        """
        with self._lock:
            bound: Bound = []
            try:
                for spec in specs:
                    new = self._bind_spec(spec, container_ips)
                    for binding, _ in new:
                        key = (binding.proto, binding.host_port)
                        self._taken.setdefault(key, {})[binding.host_ip] = owner
                    bound.extend(new)
            except _PortError as exc:
                self._forget(bound)
                raise SystemError_(
                    "failed to set up container networking: driver failed programming external "
                    f"connectivity on endpoint {endpoint_name} ({endpoint_id or owner}): {exc}"
                ) from None
            except BaseException:
                self._forget(bound)
                raise
            self._held.setdefault(owner, []).extend(bound)
            return list(bound)

    def release(self, owner: str) -> None:
        """Close that owner's sockets and free its ports."""
        with self._lock:
            self._forget(self._held.pop(owner, []))

    def held(self, owner: str) -> list[PortBinding]:
        with self._lock:
            return [binding for binding, _ in self._held.get(owner, [])]

    # -- inside the lock --------------------------------------------------------------------

    def _forget(self, bound: Bound) -> None:
        for binding, sock in bound:
            sock.close()
            key = (binding.proto, binding.host_port)
            taken = self._taken.get(key, {})
            taken.pop(binding.host_ip, None)
            if not taken:
                self._taken.pop(key, None)

    def _holder(self, proto: str, address: str, port: int) -> str | None:
        """The held address that binding ``address`` would clash with, if any."""
        taken = self._taken.get((proto, port))
        if not taken:
            return None
        if address in taken:
            return address
        version = ipaddress.ip_address(address).version
        if ANY_ADDRESS[version] in taken:
            return ANY_ADDRESS[version]
        if address == ANY_ADDRESS[version]:
            for held in taken:
                if ipaddress.ip_address(held).version == version:
                    return held
        return None

    def _candidates(self, spec: PortSpec) -> Iterator[int]:
        if spec.host_port_low:  # a range: the first free port in it
            yield from range(spec.host_port_low, spec.host_port_high + 1)
            return
        # Random: go round the ephemeral range from where the last one stopped, so a port
        # just released is not handed out again at once (clients may still aim at it).
        low, high = self.port_range
        last = self._cursor.get(spec.proto)
        if last is None or not low <= last <= high:
            last = random.randint(low, high)
        yield from range(last + 1, high + 1)
        yield from range(low, last + 1)

    def _bind_spec(self, spec: PortSpec, container_ips: Sequence[str]) -> Bound:
        if spec.host_ip:
            addresses = [spec.host_ip]
        else:
            addresses = [ANY_ADDRESS[4], *([ANY_ADDRESS[6]] if ipv6_listenable() else [])]
        if spec.host_port_low and spec.host_port_low == spec.host_port_high:
            port = spec.host_port_low
            for address in addresses:
                holder = self._holder(spec.proto, address, port)
                if holder is not None:
                    raise _PortError(f"Bind for {holder}:{port} failed: port is already allocated")
            return self._bind_addresses(spec, addresses, port, container_ips)
        failure: _PortError | None = None
        for port in self._candidates(spec):
            if any(self._holder(spec.proto, a, port) is not None for a in addresses):
                continue
            try:
                bound = self._bind_addresses(spec, addresses, port, container_ips)
            except _PortError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                failure = exc  # someone else has it: try the next one
                continue
            if not spec.host_port_low:
                self._cursor[spec.proto] = port
            return bound
        raise failure or _PortError("all ports are allocated")

    def _bind_addresses(
        self, spec: PortSpec, addresses: list[str], port: int, container_ips: Sequence[str]
    ) -> Bound:
        bound: Bound = []
        try:
            for address in addresses:
                container_ip = _container_ip(container_ips, address)
                try:
                    sock = _open_socket(self.opener, spec, address, port, container_ip)
                except _PortError as exc:
                    implicit_v6 = not spec.host_ip and address == ANY_ADDRESS[6]
                    if implicit_v6 and exc.errno in _NO_IPV6:
                        continue
                    raise
                bound.append((PortBinding(spec.proto, spec.container_port, address, port), sock))
        except BaseException:
            for _, sock in bound:
                sock.close()
            raise
        return bound


# -- what inspect shows -------------------------------------------------------------------------


def ports_view(
    exposed: dict[str, Any] | None, bindings: Sequence[PortBinding]
) -> dict[str, list[dict[str, str]] | None]:
    """``NetworkSettings.Ports``: every exposed or published ``"80/tcp"`` key, None when only
    exposed; keys sorted as Go's JSON encoder sorts a map."""
    view: dict[str, list[dict[str, str]] | None] = {}
    for port, proto in exposed_ports(exposed):
        view.setdefault(f"{port}/{proto}", None)
    for binding in bindings:
        key = f"{binding.container_port}/{binding.proto}"
        entries = view.get(key) or []
        entries.append({"HostIp": binding.host_ip, "HostPort": str(binding.host_port)})
        view[key] = entries
    return dict(sorted(view.items()))
