"""IP address management of bridge networks, as libnetwork's default IPAM driver does it.

Choosing a network's subnet from the default address pools, checking a user's ``IPAM.Config``
entry, and handing out the addresses of one subnet. Everything here is pure except
``host_networks``, which reads the host's routes and addresses over netlink (blocking).
"""

from __future__ import annotations

import csv
import ipaddress
import re
import secrets
import socket
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from engine.errors import Forbidden, InvalidParameter, NotFound, SystemError_, Unavailable
from engine.networks import netlink

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_Interface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_PREFIX_LENGTH = re.compile(r"0|[1-9][0-9]*")
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class AddressPool:
    """One ``--default-address-pool``: ``base`` cut into subnets of prefix length ``size``."""

    base: Network
    size: int


def _pool(base: str, size: int) -> AddressPool:
    return AddressPool(ipaddress.ip_network(base), size)


# libnetwork's ipamutils defaults for local networks, in its order.
DEFAULT_POOLS: tuple[AddressPool, ...] = (
    _pool("172.17.0.0/16", 16),
    _pool("172.18.0.0/16", 16),
    _pool("172.19.0.0/16", 16),
    _pool("172.20.0.0/14", 16),
    _pool("172.24.0.0/14", 16),
    _pool("172.28.0.0/14", 16),
    _pool("192.168.0.0/16", 20),
)


def parse_address_pool(text: str) -> AddressPool:
    """dockerd's ``--default-address-pool`` syntax: ``base=10.10.0.0/16,size=24``."""
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as exc:
        raise InvalidParameter(f"invalid default address pool {text!r}: {exc}") from None
    base_text: str | None = None
    size: int | None = None
    for item in fields:
        # dockerd lowercases the whole field, keys and values alike
        key, sep, value = item.lower().partition("=")
        if not sep:
            raise InvalidParameter(f"invalid field '{item}' must be a key=value pair")
        if key == "base":
            base_text = value
        elif key == "size":
            if not _INTEGER.fullmatch(value):
                raise InvalidParameter(f'invalid size value: "{value}" (must be integer)')
            size = int(value)
        else:
            raise InvalidParameter(f"unexpected key '{key}' in '{item}'")
    if not base_text:
        raise InvalidParameter(f'invalid default address pool "{text}": base is missing')
    if size is None:
        raise InvalidParameter(f'invalid default address pool "{text}": size is missing')
    interface = _parse_prefix(base_text)
    if interface is None:
        raise InvalidParameter(f'invalid base pool "{base_text}": invalid CIDR address')
    base = interface.network  # like Go's net.ParseCIDR, host bits of the base are dropped
    if not base.prefixlen <= size <= base.max_prefixlen or size <= 0:
        raise InvalidParameter(
            f"invalid pools size: {size} (must be between {max(base.prefixlen, 1)} "
            f"and {base.max_prefixlen} for base {base})"
        )
    return AddressPool(base, size)


def host_networks() -> list[Network]:
    """Networks the host already reaches: its main routing table's destinations and the
    networks of its interface addresses, IPv4 and IPv6 (blocking; call it off the event loop).

    Default routes and loopback, link-local and multicast networks are left out: a bridge
    subnet cannot clash with those."""
    found: list[Network] = []
    with netlink.RouteSocket() as rt:
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in rt.routes(family, netlink.RT_TABLE_MAIN):
                if route.dst:
                    found.append(ipaddress.ip_network(f"{route.dst}/{route.dst_len}", strict=False))
        for message in rt.addresses():
            # IFA_LOCAL is our end of a point-to-point link, IFA_ADDRESS its peer
            for value in (message.local, message.address):
                if value:
                    found.append(ipaddress.ip_interface(f"{value}/{message.prefixlen}").network)
    return relevant_host_networks(found)


def relevant_host_networks(networks: Iterable[Network]) -> list[Network]:
    """``networks`` without duplicates and without those that never clash with a subnet."""
    result: dict[Network, None] = {}
    for network in networks:
        start = network.network_address
        if network.prefixlen == 0 or start.is_loopback or start.is_link_local:
            continue
        if start.is_multicast:
            continue
        result.setdefault(network)
    return list(result)


def _span(network: Network) -> tuple[int, int]:
    """``network``'s addresses as a half-open integer range (ipaddress's broadcast_address is
    slow enough to matter with thousands of taken networks)."""
    start = int(network.network_address)
    return start, start + (1 << (network.max_prefixlen - network.prefixlen))


def overlaps(a: Network, b: Network) -> bool:
    if a.version != b.version:
        return False
    (a_start, a_end), (b_start, b_end) = _span(a), _span(b)
    return a_start < b_end and b_start < a_end


def _merged_spans(taken: Iterable[Network], version: int) -> list[tuple[int, int]]:
    """The addresses of ``taken`` as sorted, disjoint, half-open integer ranges."""
    spans = sorted(_span(n) for n in taken if n.version == version)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _first_free(pool: AddressPool, spans: list[tuple[int, int]]) -> Network | None:
    ends = [end for _, end in spans]
    block = 1 << (pool.base.max_prefixlen - pool.size)
    base = int(pool.base.network_address)
    stop = base + pool.base.num_addresses
    start = base
    while start < stop:
        index = bisect_right(ends, start)  # the first taken span that ends after ``start``
        if index == len(spans) or spans[index][0] >= start + block:
            return _network(pool.base.version, start, pool.size)
        # Jump to the first block boundary past that span: a /8 cut into /24s with most of
        # it taken costs one step per taken span, not one per /24.
        start = base + -(-(spans[index][1] - base) // block) * block
    return None


def choose_subnet(
    pools: Sequence[AddressPool], taken: Iterable[Network], *, version: int = 4
) -> Network:
    """The first subnet of ``pools`` (of IP ``version``) that overlaps none of ``taken``."""
    spans = _merged_spans(taken, version)
    for pool in pools:
        if pool.base.version == version:
            subnet = _first_free(pool, spans)
            if subnet is not None:
                return subnet
    raise NotFound(
        f"could not find an available, non-overlapping IPv{version} address pool among the "
        "defaults to assign to the network"
    )


def random_ula_subnet() -> ipaddress.IPv6Network:
    """A /64 of a unique local prefix (RFC 4193) with a random global and subnet ID."""
    return ipaddress.IPv6Network(((0xFD << 120) | (secrets.randbits(56) << 64), 64))


@dataclass
class SubnetConfig:
    """One entry of a network's ``IPAM.Config``."""

    subnet: Network
    ip_range: Network | None = None
    gateway: Address | None = None
    aux_addresses: dict[str, Address] = field(default_factory=dict)


def _network(version: int, start: int, prefixlen: int) -> Network:
    if version == 4:
        return ipaddress.IPv4Network((start, prefixlen))
    return ipaddress.IPv6Network((start, prefixlen))


def _address(version: int, value: int) -> Address:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def _parse_prefix(text: str) -> _Interface | None:
    """``address/length`` as Go's netip.ParsePrefix takes it (no netmask form, no zone)."""
    address, sep, length = text.partition("/")
    if not sep or "%" in address or not _PREFIX_LENGTH.fullmatch(length):
        return None
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        return None


def _string(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"invalid JSON: IPAM.Config {key} must be a string")
    return value


def _family(version: int) -> str:
    return f"IPv{version}"


def _address_problem(text: str, subnet: _Interface) -> tuple[Address | None, str]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None, "invalid address"
    if address.version != subnet.version:
        return None, f"parent subnet is an {_family(subnet.version)} block"
    if address not in subnet.network:
        return None, f"parent subnet {subnet} doesn't contain this address"
    return address, ""


def _range_problems(text: str, subnet: _Interface) -> tuple[Network | None, list[str]]:
    prefix = _parse_prefix(text)
    if prefix is None:
        return None, [f"invalid ip-range {text}: invalid CIDR block notation"]
    if prefix.version != subnet.version:
        family = _family(subnet.version)
        return None, [f"invalid ip-range {text}: parent subnet is an {family} block"]
    problems = []
    if prefix.network.prefixlen < subnet.network.prefixlen:
        problems.append(
            f"invalid ip-range {text}: CIDR block is bigger than its parent subnet {subnet}"
        )
    if prefix.ip != prefix.network.network_address:
        problems.append(f"invalid ip-range {prefix}: it should be {prefix.network}")
    if not overlaps(prefix.network, subnet.network):
        problems.append(f"invalid ip-range {text}: parent subnet {subnet} doesn't contain ip-range")
    return prefix.network, problems


def _config_error(problems: list[str]) -> InvalidParameter:
    if len(problems) == 1:
        return InvalidParameter(f"invalid network config:\n{problems[0]}")
    return InvalidParameter("invalid network config:\n* " + "\n* ".join(problems))


def parse_subnet_config(entry: dict[str, Any]) -> SubnetConfig:
    """One ``IPAM.Config`` entry of ``POST /networks/create``, checked as dockerd does."""
    subnet_text = _string(entry, "Subnet")
    range_text = _string(entry, "IPRange")
    gateway_text = _string(entry, "Gateway")
    aux = entry.get("AuxiliaryAddresses") or {}
    if not isinstance(aux, dict) or not all(isinstance(v, str) for v in aux.values()):
        raise InvalidParameter("invalid JSON: IPAM.Config AuxiliaryAddresses must map to strings")
    subnet = _parse_prefix(subnet_text)
    if subnet is None:
        raise _config_error([f"invalid subnet {subnet_text}: invalid CIDR block notation"])
    problems = []
    if subnet.ip != subnet.network.network_address:
        problems.append(f"invalid subnet {subnet}: it should be {subnet.network}")
    config = SubnetConfig(subnet=subnet.network)
    if range_text:
        config.ip_range, range_problems = _range_problems(range_text, subnet)
        problems += range_problems
    if gateway_text:
        config.gateway, problem = _address_problem(gateway_text, subnet)
        if problem:
            problems.append(f"invalid gateway {gateway_text}: {problem}")
    for name, text in aux.items():
        address, problem = _address_problem(text, subnet)
        if problem:
            problems.append(f"invalid auxiliary address {name}: {problem}")
        elif address is not None:
            config.aux_addresses[name] = address
    if problems:
        raise _config_error(problems)
    return config


class AddressAllocator:
    """Addresses of one subnet. libnetwork allocates serially: the next free address after the
    last one handed out, wrapping around, so a just-released address is not reused at once.

    Only the addresses in use are kept (an IPv6 /64 is far too big for a bitmap)."""

    def __init__(self, config: SubnetConfig) -> None:
        self.config = config
        subnet = config.subnet
        span = config.ip_range or subnet
        self._version = subnet.version
        self._first = max(int(span.network_address), int(subnet.network_address))
        self._last = min(int(span.broadcast_address), int(subnet.broadcast_address))
        start, end = int(subnet.network_address), int(subnet.broadcast_address)
        # libnetwork keeps the network address out of every subnet but an IPv4 /31 or /32,
        # and the broadcast address out of IPv4 subnets bigger than a /31.
        self._unusable: set[int] = set()
        if self._version == 6 or subnet.prefixlen < 31:
            self._unusable.add(start)
        if self._version == 4 and subnet.prefixlen < 31:
            self._unusable.add(end)
        self._allocated: set[int] = set()
        self._last_allocated: int | None = None
        # the gateway and the aux addresses: held for the network's life, never released
        self._reserved: set[int] = set()
        self._gateway = self._reserve_gateway()
        self._reserved.add(self._gateway)
        self._reserve_aux()

    # -- the network's own addresses -------------------------------------------------------

    def _reserve_gateway(self) -> int:
        wanted = self.config.gateway
        if wanted is None:
            # dockerd takes the gateway from the ip range when there is one
            gateway = self._free_between(self._first, self._last)
            if gateway is None:
                raise SystemError_(
                    "failed to allocate gateway (): no available addresses on this pool"
                )
            return gateway
        if not self._in_subnet(wanted):
            raise SystemError_(
                f"failed to allocate gateway ({wanted}): requested address is out of range"
            )
        if int(wanted) in self._unusable:
            raise SystemError_(f"failed to allocate gateway ({wanted}): Address already in use")
        return int(wanted)

    def _reserve_aux(self) -> None:
        for name, address in self.config.aux_addresses.items():
            if not self._in_subnet(address):
                # dockerd's wording, spelling included
                raise Forbidden(
                    f"auxilairy address: ({name}:{address}) must belong to the master pool: "
                    f"{self.config.subnet}"
                )
            if self._held(int(address)):
                raise SystemError_(
                    f"failed to allocate secondary ip address ({name}:{address}): "
                    "Address already in use"
                )
            self._reserved.add(int(address))

    @property
    def gateway(self) -> Address:
        return _address(self._version, self._gateway)

    # -- containers' addresses -------------------------------------------------------------

    def _in_subnet(self, address: Address) -> bool:
        return address.version == self._version and address in self.config.subnet

    def _held(self, value: int) -> bool:
        return value in self._allocated or value in self._reserved or value in self._unusable

    def _free_between(self, low: int, high: int) -> int | None:
        value = low
        while value <= high and self._held(value):
            value += 1
        return value if value <= high else None

    def allocate(self, address: Address | None = None) -> Address:
        """``address`` if free, else the next free one of the ip range (or of the subnet).

        A wanted address may lie outside the ip range, as long as it is inside the subnet."""
        if address is not None:
            if not self._in_subnet(address):
                raise InvalidParameter(
                    f"Invalid address {address}: It does not belong to any of this network's "
                    "subnets"
                )
            if self._held(int(address)):
                raise Forbidden("Address already in use")
            self._allocated.add(int(address))
            return address
        cursor = self._last_allocated
        start = cursor + 1 if cursor is not None and self._first <= cursor < self._last else None
        value = self._free_between(start, self._last) if start is not None else None
        if value is None:
            value = self._free_between(self._first, self._last)
        if value is None:
            raise Unavailable("no available addresses on this pool")
        self._allocated.add(value)
        self._last_allocated = value
        return _address(self._version, value)

    def release(self, address: Address) -> None:
        """Give ``address`` back; unknown addresses, the gateway and aux addresses stay as is."""
        if address.version == self._version:
            self._allocated.discard(int(address))

    def is_allocated(self, address: Address) -> bool:
        """Whether ``address`` is held: by a container, as the gateway, as an aux address, or
        as the network or broadcast address."""
        return self._in_subnet(address) and self._held(int(address))

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Subnet": str(self.config.subnet)}
        if self.config.ip_range is not None:
            config["IPRange"] = str(self.config.ip_range)
        config["Gateway"] = str(self.gateway)
        if self.config.aux_addresses:
            config["AuxiliaryAddresses"] = {k: str(v) for k, v in self.config.aux_addresses.items()}
        last = self._last_allocated
        return {
            "config": config,
            "allocated": [str(_address(self._version, v)) for v in sorted(self._allocated)],
            "last": str(_address(self._version, last)) if last is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AddressAllocator:
        entry = data["config"]
        ip_range = entry.get("IPRange")
        gateway = entry.get("Gateway")
        allocator = cls(
            SubnetConfig(
                subnet=ipaddress.ip_network(entry["Subnet"]),
                ip_range=ipaddress.ip_network(ip_range) if ip_range else None,
                gateway=ipaddress.ip_address(gateway) if gateway else None,
                aux_addresses={
                    k: ipaddress.ip_address(v)
                    for k, v in (entry.get("AuxiliaryAddresses") or {}).items()
                },
            )
        )
        allocator._allocated = {int(ipaddress.ip_address(a)) for a in data.get("allocated", [])}
        last = data.get("last")
        allocator._last_allocated = int(ipaddress.ip_address(last)) if last else None
        return allocator
