"""Bridges and veth pairs through netlink. Every function blocks: call them from a worker
thread, never from the event loop's thread (pyroute2's synchronous API runs a loop of its own).

The engine's start-up (its bridge, found or made) goes through ``engine.networks.netlink``;
pyroute2, which costs an idle engine megabytes, is imported where veth pairs are made and
links deleted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.networks import netlink, netns

if TYPE_CHECKING:
    from pyroute2.iproute import IPRoute

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

ENOENT = 2
ENODEV = 19
EEXIST = 17
NODAD = 0x02  # IFA_F_NODAD: an address the engine allocated needs no duplicate detection


def _lookup(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _addresses(rt: netlink.RouteSocket, index: int) -> list[Interface]:
    result: list[Interface] = []
    for message in rt.addresses(index=index):
        if message.address is None:
            continue
        interface = ipaddress.ip_interface(f"{message.address}/{message.prefixlen}")
        if not interface.ip.is_link_local:
            result.append(interface)
    return result


def _set_sysfs(path: str, value: str) -> None:
    with contextlib.suppress(OSError):
        Path(path).write_text(value)


def bridge_addresses(name: str) -> list[Interface] | None:
    """The addresses of bridge ``name``, or None if there is no such link."""
    with netlink.RouteSocket() as rt:
        link = rt.link(name)
        return None if link is None else _addresses(rt, link.index)


def ensure_bridge(name: str, addresses: Sequence[Interface], mtu: int | None = None) -> None:
    """Create bridge ``name`` if needed, give it ``addresses`` and bring it up.

    Published ports on the host's loopback are DNAT'ed to containers, which the kernel only
    routes out of the bridge with ``route_localnet``.
    """
    with netlink.RouteSocket() as rt:
        link = rt.link(name)
        if link is None:
            with contextlib.suppress(OSError):  # lost a race with another creator
                rt.add_bridge(name, mtu)
            link = rt.link(name)
            if link is None:
                raise OSError(ENOENT, f"bridge {name} could not be created")
        have = set(_addresses(rt, link.index))
        for interface in addresses:
            if interface in have:
                continue
            if interface.version == 6:
                _set_sysfs(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0")
            try:
                rt.add_address(link.index, interface, NODAD if interface.version == 6 else 0)
            except OSError as exc:
                if exc.errno != EEXIST:
                    raise
        if not link.up:
            rt.set_up(link.index)
    _set_sysfs(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")


def delete_link(name: str) -> bool:
    """Delete a link (a bridge, or a veth together with its peer); False if there was none."""
    from pyroute2.iproute import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        try:
            ipr.link("del", ifname=name)
        except NetlinkError as exc:
            if exc.code not in (ENOENT, ENODEV):
                raise
            return False
    return True


def host_veth_name() -> str:
    return "veth" + secrets.token_hex(4)[:7]


@dataclass(frozen=True)
class EndpointLink:
    """One network interface of a container: a veth pair between its namespace and a bridge."""

    bridge: str
    host_ifname: str
    ifname: str  # the name inside the container: eth0, eth1, …
    mac: str
    addresses: tuple[Interface, ...]
    gateways: tuple[Address, ...] = ()  # default routes to add (the first network's)
    mtu: int | None = None


def add_endpoint(netns_path: Path, link: EndpointLink) -> None:
    """Create the veth pair, plug the host end into the bridge, and set up the container end."""
    from pyroute2.iproute import IPRoute

    with IPRoute() as ipr:
        bridge = _lookup(ipr, link.bridge)
        if bridge is None:
            raise OSError(ENOENT, f"bridge {link.bridge} not found")
        peer_name = "p" + link.host_ifname[1:]
        options = {"mtu": link.mtu} if link.mtu else {}
        fd = netns.open_fd(netns_path)
        try:
            ipr.link(
                "add",
                ifname=link.host_ifname,
                kind="veth",
                peer={"ifname": peer_name, "net_ns_fd": fd, **options},
                **options,
            )
        finally:
            netns.close_fd(fd)
        host = _lookup(ipr, link.host_ifname)
        assert host is not None
        ipr.link("set", index=host, master=bridge, state="up")
    # Lets a container reach its own published port through a host address, which the
    # bridge would otherwise not send back out of the port it arrived on.
    _set_sysfs(f"/sys/class/net/{link.host_ifname}/brport/hairpin_mode", "1")
    try:
        netns.run_in(netns_path, lambda: _configure_inside(peer_name, link))
    except BaseException:
        delete_link(link.host_ifname)
        raise


def _configure_inside(peer_name: str, link: EndpointLink) -> None:
    from pyroute2.iproute import IPRoute

    if any(a.version == 6 for a in link.addresses):
        _set_sysfs("/proc/sys/net/ipv6/conf/all/disable_ipv6", "0")
    with IPRoute() as ipr:
        loopback = _lookup(ipr, "lo")
        if loopback is not None:
            ipr.link("set", index=loopback, state="up")
        index = _lookup(ipr, peer_name)
        if index is None:
            raise OSError(ENOENT, f"{peer_name} did not arrive in the container's namespace")
        ipr.link("set", index=index, ifname=link.ifname, address=link.mac)
        for interface in link.addresses:
            ipr.addr(
                "add",
                index=index,
                address=str(interface.ip),
                prefixlen=interface.network.prefixlen,
                flags=NODAD if interface.version == 6 else 0,
            )
        ipr.link("set", index=index, state="up")
        for gateway in link.gateways:
            default = "0.0.0.0/0" if gateway.version == 4 else "::/0"
            ipr.route("add", dst=default, gateway=str(gateway))


def bring_up_loopback(netns_path: Path) -> None:
    def work() -> None:
        from pyroute2.iproute import IPRoute

        with IPRoute() as ipr:
            loopback = _lookup(ipr, "lo")
            if loopback is not None:
                ipr.link("set", index=loopback, state="up")

    netns.run_in(netns_path, work)


def remove_endpoint(netns_path: Path | None, host_ifname: str, ifname: str) -> None:
    """Delete a container's veth pair, from the host side or else from inside its namespace."""
    if not delete_link(host_ifname) and netns_path is not None and netns.exists(netns_path):
        netns.run_in(netns_path, lambda: delete_link(ifname))
