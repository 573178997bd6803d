"""The rootless engine's pure parts: its directories, ID maps, prerequisites, and what it says
about resource limits, and the port driver that opens host sockets for it."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from doca.cli.setup_rootless import render
from engine.config import load_config
from engine.errors import InvalidParameter, Unavailable
from engine.rootless.delegation import (
    LEAF,
    Delegation,
    adopt,
    delegated_path,
    find_delegation,
    own_cgroup,
)
from engine.rootless.dirs import default_data_root, default_exec_root, default_host
from engine.rootless.idmaps import helper_argv, own_and_subordinate, rootless_maps
from engine.rootless.limits import discard_resource_limits, rootless_info
from engine.rootless.mark import INSIDE_MARK
from engine.rootless.port_driver import (
    HostSocketError,
    PortDriver,
    PortDriverClient,
    SocketRequest,
    answer,
    privileged_port_hint,
)
from engine.rootless.prerequisites import Helper, HostFacts, check, missing, namespace_findings
from engine.rootless.slirp import slirp_argv
from engine.runtime.mounts import fuse_overlayfs_program
from engine.userns.idmap import IdMap
from engine.userns.subids import SubIdRange

ENV = {"HOME": "/home/ada", "XDG_RUNTIME_DIR": "/run/user/1000"}


def test_directories_follow_xdg() -> None:
    assert default_data_root(ENV) == Path("/home/ada/.local/share/doca")
    assert default_exec_root(ENV) == Path("/run/user/1000/doca")
    assert default_host(ENV) == "unix:///run/user/1000/doca/doca.sock"
    assert default_data_root({**ENV, "XDG_DATA_HOME": "/data"}) == Path("/data/doca")
    # A relative XDG_DATA_HOME is ignored, as the specification says.
    assert default_data_root({**ENV, "XDG_DATA_HOME": "rel"}) == Path("/home/ada/.local/share/doca")


def test_no_runtime_dir_is_an_error() -> None:
    with pytest.raises(InvalidParameter, match="XDG_RUNTIME_DIR needs to be set"):
        default_exec_root({"HOME": "/home/ada"})


def test_config_inside_the_namespace_is_rootless_with_xdg_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {**ENV, INSIDE_MARK: "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    config = load_config([])
    assert config.rootless
    assert config.data_root == Path("/home/ada/.local/share/doca")
    assert config.exec_root == Path("/run/user/1000/doca")
    assert config.hosts == ["unix:///run/user/1000/doca/doca.sock"]
    given = load_config(["--data-root", "/srv/d", "-H", "unix:///tmp/x.sock"])
    assert given.data_root == Path("/srv/d")
    assert given.hosts == ["unix:///tmp/x.sock"]
    assert given.exec_root == Path("/run/user/1000/doca")


def test_root_is_not_rootless_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INSIDE_MARK, raising=False)
    if os.geteuid() != 0:
        pytest.skip("runs as root only")
    assert not load_config([]).rootless


def test_rootless_refuses_userns_remap(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**ENV, INSIDE_MARK: "1"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidParameter, match="not supported in rootless mode"):
        load_config(["--userns-remap", "default"])


def test_maps_put_the_user_at_zero_and_the_ranges_after() -> None:
    ranges = [SubIdRange("ada", 100000, 65536), SubIdRange("ada", 300000, 10)]
    assert own_and_subordinate(1000, ranges) == (
        IdMap(0, 1000, 1),
        IdMap(1, 100000, 65536),
        IdMap(65537, 300000, 10),
    )
    assert helper_argv("newuidmap", 42, own_and_subordinate(1000, ranges[:1])) == [
        "newuidmap", "42", "0", "1000", "1", "1", "100000", "65536",
    ]  # fmt: skip


def test_maps_match_the_user_by_name_or_uid_and_need_both_files() -> None:
    by_uid = [SubIdRange("1000", 100000, 65536)]
    maps = rootless_maps("ada", 1000, 1000, by_uid, by_uid)
    assert maps.mapping.root_pair == (1000, 1000)
    assert maps.mapping.to_host(1000, 1000) == (100999, 100999)
    with pytest.raises(InvalidParameter, match="/etc/subgid"):
        rootless_maps("ada", 1000, 1000, by_uid, [SubIdRange("bob", 1, 2)])


def _facts(**changes: Any) -> HostFacts:
    good = Helper("/usr/bin/newuidmap", setuid_root=True)
    values: dict[str, Any] = {
        "user": "ada",
        "uid": 1000,
        "subuids": (SubIdRange("ada", 100000, 65536),),
        "subgids": (SubIdRange("ada", 100000, 65536),),
        "helpers": {"newuidmap": good, "newgidmap": good},
        "userns_clone": None,
        "apparmor_restrict": None,
        "max_user_namespaces": "63000\n",
        "runtime_dir": "/run/user/1000",
        "runtime_dir_owner": 1000,
        "crun": "/usr/bin/crun",
        "network_helper": "/usr/bin/slirp4netns",
        "kernel": (6, 1),
        "cgroup_v2": True,
        "delegation": Delegation(SERVICE, frozenset({"memory", "pids"})),
    }
    values.update(changes)
    return HostFacts(**values)


def test_a_ready_host_has_nothing_missing() -> None:
    findings = check(_facts())
    assert missing(findings) == []
    assert render(findings)[0] == "[OK] subordinate IDs (/etc/subuid): 65536 IDs: 100000-165535"


@pytest.mark.parametrize(
    ("changes", "what", "words"),
    [
        ({"subuids": ()}, "subordinate IDs (/etc/subuid)", "Could not find records"),
        ({"helpers": {"newuidmap": Helper(None), "newgidmap": Helper("/x", file_caps=True)}},
         "newuidmap (package uidmap)", "newuidmap binary not found"),
        ({"helpers": {"newuidmap": Helper("/x", True), "newgidmap": Helper("/usr/bin/g")}},
         "newgidmap (package uidmap)", "neither setuid root nor has file capabilities"),
        ({"userns_clone": "0\n"}, "unprivileged user namespaces", "unprivileged_userns_clone"),
        ({"max_user_namespaces": "0\n"}, "unprivileged user namespaces", "max_user_namespaces"),
        ({"apparmor_restrict": "1\n"}, "unprivileged user namespaces", "AppArmor"),
        ({"runtime_dir": ""}, "XDG_RUNTIME_DIR", "needs to be set"),
        ({"runtime_dir_owner": 0}, "XDG_RUNTIME_DIR", "is not owned by ada"),
        ({"crun": None}, "crun", "crun binary not found"),
        ({"network_helper": None}, "outbound network", "slirp4netns not found"),
        ({"tun_usable": False}, "outbound network", "/dev/net/tun is not open to ada"),
        ({"kernel": (5, 4)}, "overlayfs", "cannot mount overlayfs in a user namespace"),
        ({"delegation": None}, "resource limits", "no cgroup is delegated here"),
        ({"delegation": None, "cgroup_v2": False}, "resource limits", "cgroup v1 cannot be"),
    ],
)  # fmt: skip
def test_each_missing_prerequisite_is_named_with_a_fix(
    changes: dict[str, Any], what: str, words: str
) -> None:
    problems = missing(check(_facts(**changes)))
    assert [p.what for p in problems] == [what]
    assert words in problems[0].detail
    assert problems[0].fix


def test_the_engine_needs_only_the_namespace_prerequisites() -> None:
    facts = _facts(crun=None, network_helper=None, runtime_dir="")
    assert missing(namespace_findings(facts)) == []


def test_resource_limits_are_discarded_with_dockerds_warnings() -> None:
    host: dict[str, Any] = {"Memory": 67108864, "MemorySwap": -1, "CpuShares": 512, "PidsLimit": 0}
    warnings = discard_resource_limits(host)
    assert warnings == [
        "Your kernel does not support memory limit capabilities or the cgroup is not mounted. "
        "Limitation discarded.",
        "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
    ]
    assert host == {"Memory": 0, "MemorySwap": -1, "CpuShares": 0, "PidsLimit": 0}
    assert discard_resource_limits({"Memory": 0, "CpusetCpus": ""}) == []


def test_cpus_cannot_be_set_without_cgroups() -> None:
    with pytest.raises(InvalidParameter, match="NanoCPUs can not be set"):
        discard_resource_limits({"NanoCpus": 1_000_000_000})


def test_info_reports_no_cgroups_like_rootless_dockerd() -> None:
    info: dict[str, Any] = {
        "MemoryLimit": True,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2",
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
        "Warnings": None,
    }
    rootless_info(info)
    assert info["MemoryLimit"] is False
    assert info["CgroupDriver"] == "none"
    assert info["SecurityOptions"] == [
        "name=seccomp,profile=builtin", "name=rootless", "name=cgroupns",
    ]  # fmt: skip
    assert info["Warnings"] == [
        "WARNING: Running in rootless-mode without cgroups. Systemd is required to enable "
        "cgroups in rootless-mode."
    ]


def test_a_delegated_cgroup_keeps_the_limits_its_controllers_enforce() -> None:
    host: dict[str, Any] = {"Memory": 64 << 20, "PidsLimit": 20, "CpuShares": 512,
                            "CpusetCpus": "0", "NanoCpus": 500_000_000}  # fmt: skip
    warnings = discard_resource_limits(host, frozenset({"memory", "pids", "cpu"}))
    assert warnings == [
        "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
    ]
    assert host == {"Memory": 64 << 20, "PidsLimit": 20, "CpuShares": 512, "CpusetCpus": "",
                    "NanoCpus": 500_000_000}  # fmt: skip


def test_info_with_a_delegated_cgroup() -> None:
    info: dict[str, Any] = {"CgroupVersion": "2", "SecurityOptions": [], "Warnings": None}
    rootless_info(info, frozenset({"memory", "pids"}))
    assert info["CgroupDriver"] == "cgroupfs"
    assert (info["MemoryLimit"], info["PidsLimit"], info["CPUShares"]) == (True, True, False)
    assert info["Warnings"] is None
    assert info["LiveRestoreEnabled"] is False


SERVICE = "/user.slice/user-1000.slice/user@1000.service/app.slice/doca.service"


def _cgroup_tree(root: Path, path: str, controllers: str) -> Path:
    """A cgroup2 tree's files as the engine reads and writes them."""
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    directory = root / path.lstrip("/")
    directory.mkdir(parents=True)
    (directory / "cgroup.controllers").write_text(controllers + "\n")
    (directory / "cgroup.procs").write_text("101\n102\n")
    (directory / "cgroup.subtree_control").write_text("")
    return directory


def test_a_delegated_cgroup_is_found_and_adopted(tmp_path: Path) -> None:
    directory = _cgroup_tree(tmp_path, SERVICE, "memory pids hugetlb")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"0::{SERVICE}\n")
    found = find_delegation(tmp_path, proc)
    assert found == Delegation(SERVICE, frozenset({"memory", "pids"}))
    assert adopt(found, tmp_path) == {"memory", "pids"}
    assert (directory / LEAF / "cgroup.procs").read_text() == "102"  # each pid written in turn
    assert (directory / "cgroup.subtree_control").read_text() == "+pids"
    # An engine started again finds itself in the leaf and manages its parent.
    proc.write_text(f"0::{SERVICE}/{LEAF}\n")
    assert find_delegation(tmp_path, proc) == found


def test_no_delegation_on_cgroup_v1_or_without_controllers(tmp_path: Path) -> None:
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"0::{SERVICE}\n")
    assert find_delegation(tmp_path, proc) is None  # no cgroup.controllers at the root: v1
    _cgroup_tree(tmp_path, SERVICE, "hugetlb")
    assert find_delegation(tmp_path, proc) is None
    proc.write_text("12:pids:/\n1:name=systemd:/\n")
    assert find_delegation(tmp_path, proc) is None
    assert own_cgroup("0::/\n") == "/"
    assert delegated_path(f"{SERVICE}/{LEAF}") == SERVICE


def test_the_port_driver_hands_over_a_listening_socket() -> None:
    driver = PortDriver()
    client = PortDriverClient(driver.theirs.dup())
    driver.start()
    try:
        sock = client.open(SocketRequest("tcp", "127.0.0.1", 0))
        with sock, socket.create_connection(sock.getsockname(), timeout=5) as peer:
            accepted, _ = sock.accept()
            with accepted:
                peer.sendall(b"hi")
                assert accepted.recv(2) == b"hi"
        udp = client.open(SocketRequest("udp", "127.0.0.1", 0))
        with udp:
            assert udp.type == socket.SOCK_DGRAM
    finally:
        client.close()
        driver.close()


def test_the_port_driver_says_why_a_socket_cannot_be_had() -> None:
    driver = PortDriver()
    client = PortDriverClient(driver.theirs.dup())
    driver.start()
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(HostSocketError) as caught:
                client.open(SocketRequest("tcp", "127.0.0.1", port))
        assert (caught.value.stage, caught.value.errno) == ("bind", errno.EADDRINUSE)
        with pytest.raises(HostSocketError) as caught:
            client.open(SocketRequest("tcp", "192.0.2.1", 0))  # not an address of this host
        assert caught.value.errno == errno.EADDRNOTAVAIL
    finally:
        client.close()
        driver.close()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"proto": "icmp", "address": "127.0.0.1", "port": 1}',
        b'{"proto": "tcp", "address": "/etc/passwd", "port": 1}',
        b'{"proto": "tcp", "address": "127.0.0.1", "port": 70000}',
        b'{"proto": "tcp", "address": "127.0.0.1", "port": true}',
        b'{"proto": "tcp", "address": 1, "port": 1}',
    ],
)
def test_the_port_driver_refuses_malformed_requests(data: bytes) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        answer(ours, data)
        reply, ancillary, _, _ = theirs.recvmsg(4096, 64)
    assert ancillary == []
    assert json.loads(reply)["stage"] == "request"


def test_privileged_ports_get_a_hint() -> None:
    hint = privileged_port_hint(80, 1024)
    assert hint.startswith("cannot expose privileged port 80")
    assert "'net.ipv4.ip_unprivileged_port_start=80'" in hint
    assert "(currently 1024)" in hint


def test_slirp_argv() -> None:
    assert slirp_argv("/usr/bin/slirp4netns", 7, 3, 4) == [
        "/usr/bin/slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
        "--ready-fd=3", "--exit-fd=4", "7", "tap0",
    ]  # fmt: skip


def _never() -> bool:
    raise AssertionError("the kernel's overlayfs is probed only for an unspecified rootless driver")


def test_fuse_overlayfs_is_used_when_asked_or_when_the_kernel_cannot() -> None:
    fuse = "/usr/bin/fuse-overlayfs"
    assert fuse_overlayfs_program("fuse-overlayfs", False, fuse, _never) == fuse
    assert fuse_overlayfs_program("overlayfs", True, fuse, _never) is None
    assert fuse_overlayfs_program("", False, fuse, _never) is None
    assert fuse_overlayfs_program("", True, fuse, lambda: True) is None
    assert fuse_overlayfs_program("", True, fuse, lambda: False) == fuse
    with pytest.raises(Unavailable, match="install fuse-overlayfs"):
        fuse_overlayfs_program("", True, None, lambda: False)
    with pytest.raises(Unavailable, match="fuse-overlayfs not found in PATH"):
        fuse_overlayfs_program("fuse-overlayfs", True, None, _never)


def test_storage_driver_option_takes_dockerds_names() -> None:
    assert load_config(["--storage-driver", "overlay2"]).storage_driver == "overlayfs"
    assert load_config(["-s", "fuse-overlayfs"]).storage_driver == "fuse-overlayfs"
    with pytest.raises(InvalidParameter, match="driver not supported: zfs"):
        load_config(["--storage-driver", "zfs"])
