"""The OCI spec of a container in a user namespace, and what such a container may not ask for."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidParameter, SystemError_
from engine.runtime.oci_spec import SpecInput, build_spec, network_sysctls
from engine.runtime.sysctls import write_sysctls
from engine.userns.idmap import IdentityMapping, IdMap
from engine.userns.remapped import RemappedRoot, check_userns_conflicts

MAPPING = IdentityMapping(
    (IdMap(0, 100000, 65536), IdMap(65536, 300000, 10)), (IdMap(0, 200000, 65536),)
)
NETNS = "/run/doca/netns/abc"


def spec_input(**kwargs: Any) -> SpecInput:
    kwargs.setdefault("rootfs", "/rootfs")
    kwargs.setdefault("args", ["sh"])
    kwargs.setdefault("env", [])
    return SpecInput(**kwargs)


def test_a_user_namespace_with_the_mappings() -> None:
    linux = build_spec(spec_input(userns=MAPPING))["linux"]
    assert {"type": "user"} in linux["namespaces"]
    assert linux["uidMappings"] == [
        {"containerID": 0, "hostID": 100000, "size": 65536},
        {"containerID": 65536, "hostID": 300000, "size": 10},
    ]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]


def test_no_user_namespace_without_a_mapping() -> None:
    linux = build_spec(spec_input())["linux"]
    assert all(ns["type"] != "user" for ns in linux["namespaces"])
    assert "uidMappings" not in linux and "gidMappings" not in linux


def test_the_cgroup_tree_is_writable_in_a_user_namespace() -> None:
    def cgroup(inp: SpecInput) -> dict[str, Any]:
        return next(m for m in build_spec(inp)["mounts"] if m["type"] == "cgroup")

    assert "ro" in cgroup(spec_input())["options"]
    assert "ro" not in cgroup(spec_input(userns=MAPPING))["options"]


def test_no_ping_range_in_a_namespace_the_runtime_makes() -> None:
    """As dockerd: a GID range past the mapping cannot be written in a user namespace."""
    plain = build_spec(spec_input())["linux"]["sysctl"]
    assert plain["net.ipv4.ping_group_range"] == "0 2147483647"
    remapped = build_spec(spec_input(userns=MAPPING))["linux"]["sysctl"]
    assert "net.ipv4.ping_group_range" not in remapped
    assert remapped["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert network_sysctls(spec_input(userns=MAPPING), own_network=True) == {}


def test_the_engine_writes_the_network_sysctls_of_a_namespace_it_made() -> None:
    sysctls = {"net.ipv4.tcp_keepalive_time": "500", "kernel.shmmax": "1000"}
    inp = spec_input(userns=MAPPING, network_ns=NETNS, sysctls=sysctls)
    assert build_spec(inp)["linux"]["sysctl"] == {"kernel.shmmax": "1000"}
    assert network_sysctls(inp, own_network=True) == {
        "net.ipv4.ping_group_range": "0 2147483647",
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.tcp_keepalive_time": "500",
    }
    # Another container's namespace gets only what was asked for.
    assert network_sysctls(inp, own_network=False) == {"net.ipv4.tcp_keepalive_time": "500"}
    # Without a user namespace the runtime writes them, as before.
    plain = spec_input(network_ns=NETNS, sysctls=sysctls)
    assert build_spec(plain)["linux"]["sysctl"] == sysctls
    assert network_sysctls(plain, own_network=True) == {}


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"Privileged": True}, "privileged mode is incompatible with user namespaces."),
        ({"NetworkMode": "host"}, "cannot share the host's network namespace"),
        ({"PidMode": "host"}, "cannot share the host PID namespace"),
    ],
)
def test_what_dockerd_refuses_with_remapping(host: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        check_userns_conflicts(host)
    remapped = RemappedRoot(MAPPING)
    with pytest.raises(InvalidParameter, match=message):
        remapped.container_mapping(host)
    # --userns=host opts out of the user namespace, and so of these checks.
    assert remapped.container_mapping({**host, "UsernsMode": "host"}) is None


def test_a_container_gets_the_mapping_unless_it_asks_for_the_hosts() -> None:
    remapped = RemappedRoot(MAPPING)
    assert remapped.container_mapping({}) is MAPPING
    assert remapped.container_mapping({"UsernsMode": ""}) is MAPPING
    assert remapped.container_mapping({"NetworkMode": "bridge"}) is MAPPING
    assert remapped.root_pair == (100000, 200000)


def test_a_sysctl_the_kernel_lacks_is_reported_as_the_runtime_does() -> None:
    with pytest.raises(SystemError_) as caught:
        write_sysctls({"net.ipv4.no_such_sysctl": "1"})
    assert caught.value.message == (
        "open /proc/sys/net/ipv4/no_such_sysctl: no such file or directory"
    )
