from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pyroute2 import IPRoute

from engine.errors import Forbidden, InvalidParameter, NotFound, SystemError_, Unavailable
from engine.networks import ipam
from engine.networks.ipam import AddressAllocator, AddressPool, SubnetConfig

T = TypeVar("T")

net = ipaddress.ip_network
addr = ipaddress.ip_address

NO_POOL = (
    "could not find an available, non-overlapping IPv4 address pool among the defaults "
    "to assign to the network"
)


def allocator(subnet: str, **kwargs: Any) -> AddressAllocator:
    return AddressAllocator(SubnetConfig(subnet=net(subnet), **kwargs))


# -- pools ---------------------------------------------------------------------------------


def test_default_pools_are_dockerds_in_order() -> None:
    taken: list[ipam.Network] = []
    chosen = []
    while True:
        try:
            subnet = ipam.choose_subnet(ipam.DEFAULT_POOLS, taken)
        except NotFound as exc:
            assert exc.message == NO_POOL
            break
        chosen.append(str(subnet))
        taken.append(subnet)
    expected = [f"172.{n}.0.0/16" for n in range(17, 32)]
    expected += [f"192.168.{n}.0/20" for n in range(0, 256, 16)]
    assert chosen == expected


def test_choose_subnet_skips_the_hosts_docker0_route() -> None:
    taken = [net("172.17.0.0/16"), net("192.0.2.0/24")]
    assert ipam.choose_subnet(ipam.DEFAULT_POOLS, taken) == net("172.18.0.0/16")


def test_choose_subnet_skips_a_pool_covered_by_a_vpn_route() -> None:
    pools = [ipam.parse_address_pool("base=10.10.0.0/16,size=24"), *ipam.DEFAULT_POOLS]
    assert ipam.choose_subnet(pools, [net("10.0.0.0/8")]) == net("172.17.0.0/16")
    # a VPN route over part of the pool only pushes the choice past it
    assert ipam.choose_subnet(pools, [net("10.10.0.0/20")]) == net("10.10.16.0/24")


def test_choose_subnet_handles_taken_networks_smaller_bigger_and_straddling() -> None:
    pool = [AddressPool(net("10.20.0.0/16"), 24)]
    # a /28 inside the first /24 takes the whole /24
    assert ipam.choose_subnet(pool, [net("10.20.0.16/28")]) == net("10.20.1.0/24")
    # a network that starts before the pool and ends inside it
    assert ipam.choose_subnet(pool, [net("10.16.0.0/14"), net("10.20.0.0/23")]) == net(
        "10.20.2.0/24"
    )
    # overlapping taken networks are merged
    taken = [net("10.20.0.0/22"), net("10.20.2.0/23"), net("10.20.4.0/24")]
    assert ipam.choose_subnet(pool, taken) == net("10.20.5.0/24")


def test_choose_subnet_ignores_the_other_ip_version() -> None:
    v6_pool = ipam.parse_address_pool("base=fd10::/48,size=64")
    pools = [v6_pool, *ipam.DEFAULT_POOLS]
    taken = [net("::/0"), net("172.17.0.0/16")]
    assert ipam.choose_subnet(pools, taken) == net("172.18.0.0/16")
    assert ipam.choose_subnet(pools, [net("fd10::/64")], version=6) == net("fd10:0:0:1::/64")


def test_choose_subnet_exhausted_says_what_dockerd_says() -> None:
    pools = [ipam.parse_address_pool("base=10.1.0.0/23,size=24")]
    with pytest.raises(NotFound) as raised:
        ipam.choose_subnet(pools, [net("10.1.0.0/24"), net("10.1.1.0/25")])
    assert raised.value.message == NO_POOL


def test_choose_subnet_is_fast_with_many_scattered_taken_networks() -> None:
    # Every other /24 of 10.0.0.0/8 is taken, so each /23 of the pool overlaps one of them
    # except the very last one: 32767 disjoint taken networks to skip.
    pool = [AddressPool(net("10.0.0.0/8"), 23)]
    taken = [ipaddress.IPv4Network((0x0A000000 + (i << 9), 24)) for i in range((1 << 15) - 1)]
    started = time.monotonic()
    assert ipam.choose_subnet(pool, taken) == net("10.255.254.0/23")
    assert time.monotonic() - started < 2


def test_choose_subnet_cuts_a_huge_ipv6_pool_without_enumerating_it() -> None:
    pool = [ipam.parse_address_pool("base=fd00::/8,size=64")]
    taken = [net("fd00::/16"), net("fd01::/64")]
    assert ipam.choose_subnet(pool, taken, version=6) == net("fd01:0:0:1::/64")


def test_parse_address_pool() -> None:
    assert ipam.parse_address_pool("base=10.10.0.0/16,size=24") == AddressPool(
        net("10.10.0.0/16"), 24
    )
    assert ipam.parse_address_pool("SIZE=20,Base=192.168.0.0/16") == AddressPool(
        net("192.168.0.0/16"), 20
    )
    assert ipam.parse_address_pool("base=FD00::/8,size=64") == AddressPool(net("fd00::/8"), 64)
    # dockerd parses the base with net.ParseCIDR, which drops host bits
    assert ipam.parse_address_pool("base=10.10.1.0/16,size=24").base == net("10.10.0.0/16")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("size=24", 'invalid default address pool "size=24": base is missing'),
        ("base=10.0.0.0/8", 'invalid default address pool "base=10.0.0.0/8": size is missing'),
        ("base=10.0.0.0/8,size=x", 'invalid size value: "x" (must be integer)'),
        ("base=10.0.0.0/8,size", "invalid field 'size' must be a key=value pair"),
        ("base=10.0.0.0/8,scope=local", "unexpected key 'scope' in 'scope=local'"),
        ("base=10.0.0.300/8,size=24", 'invalid base pool "10.0.0.300/8": invalid CIDR address'),
        ("base=10.0.0.0,size=24", 'invalid base pool "10.0.0.0": invalid CIDR address'),
        ("base=10.0.0.0/16,size=8", "invalid pools size: 8 (must be between 16 and 32"),
        ("base=10.0.0.0/16,size=33", "invalid pools size: 33 (must be between 16 and 32"),
        ("base=fd00::/8,size=129", "invalid pools size: 129 (must be between 8 and 128"),
        ("base=0.0.0.0/0,size=0", "invalid pools size: 0"),
    ],
)
def test_parse_address_pool_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        ipam.parse_address_pool(text)
    assert raised.value.message.startswith(message)


def test_overlaps() -> None:
    assert ipam.overlaps(net("10.0.0.0/8"), net("10.1.2.0/24"))
    assert ipam.overlaps(net("10.1.2.0/24"), net("10.0.0.0/8"))
    assert not ipam.overlaps(net("10.0.0.0/24"), net("10.0.1.0/24"))
    assert not ipam.overlaps(net("0.0.0.0/0"), net("::/0"))
    assert ipam.overlaps(net("fd00::/8"), net("fd12::/64"))


def test_random_ula_subnet() -> None:
    subnets = {ipam.random_ula_subnet() for _ in range(20)}
    assert len(subnets) == 20
    for subnet in subnets:
        assert subnet.prefixlen == 64
        assert subnet.subnet_of(net("fd00::/8"))  # type: ignore[arg-type]


# -- IPAM.Config entries ---------------------------------------------------------------------


def test_parse_subnet_config_full_entry() -> None:
    config = ipam.parse_subnet_config(
        {
            "Subnet": "172.28.0.0/16",
            "IPRange": "172.28.5.0/24",
            "Gateway": "172.28.5.254",
            "AuxiliaryAddresses": {"router": "172.28.1.5", "switch": "172.28.1.6"},
        }
    )
    assert config == SubnetConfig(
        subnet=net("172.28.0.0/16"),
        ip_range=net("172.28.5.0/24"),
        gateway=addr("172.28.5.254"),
        aux_addresses={"router": addr("172.28.1.5"), "switch": addr("172.28.1.6")},
    )
    assert ipam.parse_subnet_config({"Subnet": "fd00:1::/64"}) == SubnetConfig(net("fd00:1::/64"))


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({}, "invalid subnet : invalid CIDR block notation"),
        ({"Subnet": "10.0.0.0"}, "invalid subnet 10.0.0.0: invalid CIDR block notation"),
        (
            {"Subnet": "10.0.0.0/255.255.0.0"},
            "invalid subnet 10.0.0.0/255.255.0.0: invalid CIDR block notation",
        ),
        ({"Subnet": "10.0.0.1/24"}, "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"),
        (
            {"Subnet": "10.0.0.0/24", "IPRange": "nope"},
            "invalid ip-range nope: invalid CIDR block notation",
        ),
        (
            {"Subnet": "10.0.0.0/24", "IPRange": "10.0.0.128/24"},
            "invalid ip-range 10.0.0.128/24: it should be 10.0.0.0/24",
        ),
        (
            {"Subnet": "10.0.0.0/24", "IPRange": "10.9.0.0/25"},
            "invalid ip-range 10.9.0.0/25: parent subnet 10.0.0.0/24 doesn't contain ip-range",
        ),
        (
            {"Subnet": "10.0.0.0/24", "IPRange": "fd00::/64"},
            "invalid ip-range fd00::/64: parent subnet is an IPv4 block",
        ),
        (
            {"Subnet": "10.0.0.0/24", "Gateway": "10.0.1.1"},
            "invalid gateway 10.0.1.1: parent subnet 10.0.0.0/24 doesn't contain this address",
        ),
        (
            {"Subnet": "fd00::/64", "Gateway": "10.0.0.1"},
            "invalid gateway 10.0.0.1: parent subnet is an IPv6 block",
        ),
        (
            {"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1/24"},
            "invalid gateway 10.0.0.1/24: invalid address",
        ),
        (
            {"Subnet": "10.0.0.0/24", "AuxiliaryAddresses": {"db": "10.0.5.5"}},
            "invalid auxiliary address db: parent subnet 10.0.0.0/24 doesn't contain this address",
        ),
    ],
)
def test_parse_subnet_config_rejects(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        ipam.parse_subnet_config(entry)
    assert raised.value.message == f"invalid network config:\n{problem}"


def test_parse_subnet_config_lists_every_problem() -> None:
    with pytest.raises(InvalidParameter) as raised:
        ipam.parse_subnet_config(
            {"Subnet": "10.0.0.1/24", "IPRange": "10.1.0.0/16", "Gateway": "10.0.1.1"}
        )
    assert raised.value.message == (
        "invalid network config:\n"
        "* invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24\n"
        "* invalid ip-range 10.1.0.0/16: CIDR block is bigger than its parent subnet 10.0.0.1/24\n"
        "* invalid ip-range 10.1.0.0/16: parent subnet 10.0.0.1/24 doesn't contain ip-range\n"
        "* invalid gateway 10.0.1.1: parent subnet 10.0.0.1/24 doesn't contain this address"
    )


def test_parse_subnet_config_rejects_non_strings() -> None:
    with pytest.raises(InvalidParameter):
        ipam.parse_subnet_config({"Subnet": 10})
    with pytest.raises(InvalidParameter):
        ipam.parse_subnet_config({"Subnet": "10.0.0.0/24", "AuxiliaryAddresses": {"a": 1}})


# -- addresses -----------------------------------------------------------------------------


def test_gateway_defaults_to_the_first_host_address() -> None:
    assert allocator("10.0.0.0/24").gateway == addr("10.0.0.1")
    assert allocator("fd00:1::/64").gateway == addr("fd00:1::1")
    assert allocator("10.0.0.0/24", gateway=addr("10.0.0.254")).gateway == addr("10.0.0.254")


def test_gateway_comes_from_the_ip_range_as_in_dockerd() -> None:
    # libnetwork asks the ip range (the sub-pool) for the gateway; only the subnet's own
    # network address is held back, so the range's first address is a usable one.
    a = allocator("10.1.0.0/16", ip_range=net("10.1.5.0/24"))
    assert a.gateway == addr("10.1.5.0")
    assert a.allocate() == addr("10.1.5.1")
    b = allocator("10.1.0.0/16", ip_range=net("10.1.0.0/24"))
    assert b.gateway == addr("10.1.0.1")


def test_serial_allocation_does_not_reuse_a_released_address_at_once() -> None:
    a = allocator("10.0.0.0/29")  # hosts .1-.6, .1 is the gateway
    assert [str(a.allocate()) for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    a.release(addr("10.0.0.3"))
    assert a.allocate() == addr("10.0.0.5")
    assert a.allocate() == addr("10.0.0.6")
    # past the end, allocation wraps around to the first free address
    assert a.allocate() == addr("10.0.0.3")
    with pytest.raises(Unavailable) as raised:
        a.allocate()
    assert raised.value.message == "no available addresses on this pool"
    a.release(addr("10.0.0.5"))
    assert a.allocate() == addr("10.0.0.5")


def test_allocation_stays_inside_the_ip_range() -> None:
    a = allocator("10.0.0.0/24", ip_range=net("10.0.0.8/30"))
    assert a.gateway == addr("10.0.0.8")
    assert [str(a.allocate()) for _ in range(3)] == ["10.0.0.9", "10.0.0.10", "10.0.0.11"]
    with pytest.raises(Unavailable):
        a.allocate()
    # a wanted address may be outside the range as long as it is in the subnet
    assert a.allocate(addr("10.0.0.200")) == addr("10.0.0.200")


def test_static_addresses() -> None:
    a = allocator(
        "10.0.0.0/24", gateway=addr("10.0.0.254"), aux_addresses={"host": addr("10.0.0.2")}
    )
    assert a.allocate(addr("10.0.0.50")) == addr("10.0.0.50")
    for taken in ("10.0.0.50", "10.0.0.254", "10.0.0.2", "10.0.0.0", "10.0.0.255"):
        with pytest.raises(Forbidden) as raised:
            a.allocate(addr(taken))
        assert raised.value.message == "Address already in use"
    for outside in ("10.0.1.5", "fd00::5"):
        with pytest.raises(InvalidParameter) as invalid:
            a.allocate(addr(outside))
        assert invalid.value.message == (
            f"Invalid address {outside}: It does not belong to any of this network's subnets"
        )
    # the static address did not move the serial cursor; the gateway and aux are skipped
    assert a.allocate() == addr("10.0.0.1")
    assert a.allocate() == addr("10.0.0.3")


def test_gateway_and_aux_addresses_are_never_handed_out_or_released() -> None:
    a = allocator("10.0.0.0/30", aux_addresses={"x": addr("10.0.0.2")})  # hosts .1 and .2
    assert a.is_allocated(addr("10.0.0.1")) and a.is_allocated(addr("10.0.0.2"))
    with pytest.raises(Unavailable):
        a.allocate()
    a.release(addr("10.0.0.1"))
    a.release(addr("10.0.0.2"))
    a.release(addr("10.9.9.9"))  # unknown: no error
    a.release(addr("fd00::1"))
    assert a.is_allocated(addr("10.0.0.1"))
    with pytest.raises(Unavailable):
        a.allocate()


def test_tiny_ipv4_subnets_have_no_network_or_broadcast_address() -> None:
    a = allocator("10.0.0.0/31")
    assert a.gateway == addr("10.0.0.0")
    assert a.allocate() == addr("10.0.0.1")
    b = allocator("10.0.0.7/32")
    assert b.gateway == addr("10.0.0.7")
    with pytest.raises(Unavailable):
        b.allocate()


def test_the_network_refuses_unusable_gateway_and_aux_addresses() -> None:
    with pytest.raises(SystemError_) as raised:
        allocator("10.0.0.0/24", gateway=addr("10.0.0.255"))
    assert raised.value.message == "failed to allocate gateway (10.0.0.255): Address already in use"
    with pytest.raises(SystemError_) as raised:
        allocator("10.0.0.0/24", aux_addresses={"gw": addr("10.0.0.1")})
    assert raised.value.message == (
        "failed to allocate secondary ip address (gw:10.0.0.1): Address already in use"
    )


def test_ipv6_subnet_of_a_slash_64() -> None:
    a = allocator("fd00:1::/64")
    assert a.is_allocated(addr("fd00:1::"))  # the subnet-router anycast address
    assert [str(a.allocate()) for _ in range(3)] == ["fd00:1::2", "fd00:1::3", "fd00:1::4"]
    high = addr("fd00:1::ffff:ffff:ffff:ffff")
    assert a.allocate(high) == high  # no broadcast address in IPv6
    assert a.is_allocated(high)
    a.release(high)
    assert not a.is_allocated(high)
    b = allocator("fd00:1::/64", ip_range=net("fd00:1::ab:0/112"))
    assert b.gateway == addr("fd00:1::ab:0")
    assert b.allocate() == addr("fd00:1::ab:1")


def test_to_dict_from_dict_round_trip() -> None:
    a = allocator(
        "10.5.0.0/24",
        ip_range=net("10.5.0.0/25"),
        gateway=addr("10.5.0.1"),
        aux_addresses={"db": addr("10.5.0.3")},
    )
    for _ in range(4):
        a.allocate()  # .2 .4 .5 .6
    a.release(addr("10.5.0.4"))
    a.allocate(addr("10.5.0.200"))
    data = json.loads(json.dumps(a.to_dict()))
    assert data == {
        "config": {
            "Subnet": "10.5.0.0/24",
            "IPRange": "10.5.0.0/25",
            "Gateway": "10.5.0.1",
            "AuxiliaryAddresses": {"db": "10.5.0.3"},
        },
        "allocated": ["10.5.0.2", "10.5.0.5", "10.5.0.6", "10.5.0.200"],
        "last": "10.5.0.6",
    }
    b = AddressAllocator.from_dict(data)
    assert b.config == a.config
    assert b.gateway == a.gateway
    assert b.is_allocated(addr("10.5.0.200")) and b.is_allocated(addr("10.5.0.3"))
    assert not b.is_allocated(addr("10.5.0.4"))
    assert b.allocate() == addr("10.5.0.7")  # carries on after the last one handed out
    assert b.to_dict()["last"] == "10.5.0.7"


def test_from_dict_of_a_default_gateway_keeps_it() -> None:
    a = allocator("fd00:9::/64")
    b = AddressAllocator.from_dict(json.loads(json.dumps(a.to_dict())))
    assert b.gateway == addr("fd00:9::1")
    assert b.to_dict() == a.to_dict()


# -- the host's networks ----------------------------------------------------------------------


def test_relevant_host_networks_drops_what_never_clashes() -> None:
    found = [
        net("0.0.0.0/0"),
        net("::/0"),
        net("127.0.0.0/8"),
        net("::1/128"),
        net("169.254.0.0/16"),
        net("fe80::/64"),
        net("224.0.0.0/4"),
        net("ff00::/8"),
        net("10.0.0.0/8"),
        net("192.0.2.0/24"),
        net("10.0.0.0/8"),
        net("fd00::/64"),
    ]
    assert ipam.relevant_host_networks(found) == [
        net("10.0.0.0/8"),
        net("192.0.2.0/24"),
        net("fd00::/64"),
    ]


_CLONE_NEWNET = 0x40000000


def _in_new_netns(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own that moved into a fresh network namespace; the
    thread ends afterwards, so no other thread ever sees that namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            if libc.unshare(_CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))
            outcome.append(work())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if failure:
        raise failure[0]
    return outcome[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace")
def test_host_networks_reads_routes_and_addresses_of_the_namespace() -> None:
    def work() -> list[ipam.Network]:
        with IPRoute() as ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
            ipr.link("add", ifname="ipamtest0", kind="veth", peer="ipamtest1")
            index = ipr.link_lookup(ifname="ipamtest0")[0]
            ipr.addr("add", index=index, address="10.123.4.5", prefixlen=16)
            ipr.addr("add", index=index, address="fd12:3456::5", prefixlen=64)
            ipr.link("set", index=index, state="up")
            ipr.link("set", index=ipr.link_lookup(ifname="ipamtest1")[0], state="up")
            # a VPN-like route through a gateway, and a default route
            ipr.route("add", dst="10.200.0.0/16", gateway="10.123.0.254")
            ipr.route("add", dst="0.0.0.0/0", gateway="10.123.0.254")
            ipr.route("add", dst="fd99::/48", gateway="fd12:3456::fe")
            ipr.route("add", dst="::/0", gateway="fd12:3456::fe")
        return ipam.host_networks()

    found = _in_new_netns(work)
    assert sorted(map(str, found)) == sorted(
        ["10.123.0.0/16", "10.200.0.0/16", "fd12:3456::/64", "fd99::/48"]
    )


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_host_networks_include_the_hosts_on_link_networks() -> None:
    output = subprocess.run(
        ["ip", "-o", "route", "show", "table", "main", "scope", "link"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    destinations = [line.split()[0] for line in output.splitlines() if line.strip()]
    on_link = {net(d, strict=False) for d in destinations if d != "default"}
    expected = set(ipam.relevant_host_networks(on_link))
    found: list[list[ipam.Network]] = []
    reader = threading.Thread(target=lambda: found.append(ipam.host_networks()))
    reader.start()
    reader.join(timeout=30)
    assert expected <= set(found[0])
