"""``HostConfig`` in container inspect holds every field dockerd shows, with its zero values and
create-time defaults, whatever subset of it the client sent.

The reference answers were recorded from Debian's dockerd 20.10.24 (API 1.41; cgroup v1 host,
default runtime runc) with ``curl --unix-socket … /v1.41/containers/{name}/json`` after creating
each container as the test does. ``as_dockerd_28`` then applies what moby v28.5.2 does
differently, each step named after the code that does it, so the comparison is with dockerd 28.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.containers.host_config_view import FIELD_NAMES, default_masked_paths, host_config_view
from tests.support.engine import DockerCLI, EngineProcess

pytestmark = pytest.mark.usefixtures("loaded_busybox")

# POST /v1.41/containers/create with {"Image": "busybox"}, then inspect, on dockerd 20.10.24.
DOCKERD_MINIMAL: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default", "PortBindings": None,
    "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None,
    "CgroupnsMode": "host", "Dns": None, "DnsOptions": None, "DnsSearch": None,
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
    "ShmSize": 67108864, "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0,
    "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": None,
    "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": None,
    "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0, "KernelMemoryTCP": 0,
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False,
    "PidsLimit": None, "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "MaskedPaths": [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware",
    ],
    "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
}  # fmt: skip

PRIVILEGED_BODY = {"Image": "busybox", "HostConfig": {"Privileged": True}}
# The same dockerd's answer for it: only these keys differ from DOCKERD_MINIMAL.
DOCKERD_PRIVILEGED = {
    "Privileged": True, "SecurityOpt": ["label=disable"], "Runtime": "runc",
    "MaskedPaths": None, "ReadonlyPaths": None,
}  # fmt: skip

MIXED_BODY = {
    "Image": "busybox",
    "HostConfig": {
        "Memory": 16777216, "MemorySwap": 33554432, "Dns": [], "Tmpfs": {}, "PidsLimit": 0,
        "Ulimits": [], "KernelMemory": 0, "CapAdd": ["NET_ADMIN"], "ShmSize": None,
        "Sysctls": {"net.ipv4.ip_forward": "1"}, "Init": False, "MemorySwappiness": -1,
        "IpcMode": "host", "ConsoleSize": [5], "RestartPolicy": {"Name": "always"},
    },
}  # fmt: skip
DOCKERD_MIXED = {
    "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}, "CapAdd": ["NET_ADMIN"],
    "Dns": [], "IpcMode": "host", "SecurityOpt": ["label=disable"],
    "Sysctls": {"net.ipv4.ip_forward": "1"}, "Runtime": "runc", "ConsoleSize": [5, 0],
    "Memory": 16777216, "MemorySwap": 33554432, "Ulimits": [], "Init": False,
}  # fmt: skip

# `docker create busybox` by the docker CLI 28.2.2 against that dockerd.
DOCKERD_CLI_CREATED = {
    "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "Dns": [],
    "DnsOptions": [], "DnsSearch": [], "Runtime": "runc", "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [], "Devices": [], "Ulimits": [],
}  # fmt: skip

MOBY_28_MASKED_ADDITIONS = ("/proc/interrupts", "/sys/devices/virtual/powercap")


def as_dockerd_28(recorded: dict[str, Any], *, cgroup_version: str, runtime: str) -> dict[str, Any]:
    """dockerd 20.10's answer turned into dockerd 28's for the same request on this host."""
    answer = dict(recorded)
    # postContainersCreate: "default" (or nothing) is the bridge network from the start.
    if answer["NetworkMode"] in ("", "default"):
        answer["NetworkMode"] = "bridge"
    # postContainersCreate makes an empty HostConfig for a body without one, so containerCreate
    # names the default restart policy "no" and verifyPlatformContainerSettings sets the
    # runtime: 20.10 did neither without a HostConfig.
    if answer["RestartPolicy"]["Name"] == "":
        answer["RestartPolicy"] = {**answer["RestartPolicy"], "Name": "no"}
    answer["Runtime"] = runtime  # the daemon's default runtime; dockerd's is runc, Doca's crun
    # KernelMemory and KernelMemoryTCP are `json:",omitempty"` since API 1.42.
    for key in ("KernelMemory", "KernelMemoryTCP"):
        if not answer.get(key):
            answer.pop(key, None)
    # oci/defaults.go masks two more paths (and each CPU's thermal_throttle, where present).
    if answer["MaskedPaths"] is not None:
        masked = list(answer["MaskedPaths"])
        masked.insert(masked.index("/proc/kcore"), "/proc/interrupts")
        masked.append("/sys/devices/virtual/powercap")
        answer["MaskedPaths"] = masked + default_masked_paths()[len(masked) :]
    # adaptContainerSettings: cgroup namespaces are private on cgroup v2 (privileged too).
    if cgroup_version == "2":
        answer["CgroupnsMode"] = "private"
    return {key: answer[key] for key in FIELD_NAMES if key in answer}


def post_create(engine: EngineProcess, name: str, body: dict[str, Any]) -> None:
    response = engine.request(
        "POST", f"/v1.47/containers/create?name={name}", json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status == 201, response.body


def host_config(engine: EngineProcess, name: str) -> dict[str, Any]:
    response = engine.request("GET", f"/v1.47/containers/{name}/json")
    assert response.status == 200, response.body
    value: dict[str, Any] = json.loads(response.body)["HostConfig"]
    return value


@pytest.fixture(scope="module")
def expected(engine: EngineProcess) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """dockerd 28's answer on this host, from a recorded one (or its differences)."""
    info = json.loads(engine.request("GET", "/v1.47/info").body)

    def expect(differences: dict[str, Any]) -> dict[str, Any]:
        recorded = {**DOCKERD_MINIMAL, **differences}
        return as_dockerd_28(
            recorded, cgroup_version=info["CgroupVersion"], runtime=info["DefaultRuntime"]
        )

    return expect


def test_a_minimal_body_shows_every_field_with_dockerds_values(
    engine: EngineProcess, expected: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    post_create(engine, "minimal", {"Image": "busybox"})
    shown = host_config(engine, "minimal")
    want = expected({})
    assert sorted(shown) == sorted(want)
    assert shown == want
    # null, [] and {} are told apart: nil slices and maps stay null, not empty.
    for key in ("Binds", "PortBindings", "CapAdd", "Dns", "Devices", "Ulimits", "PidsLimit"):
        assert shown[key] is None, key
    assert "Tmpfs" not in shown and "Init" not in shown and "KernelMemory" not in shown
    # In moby's declaration order, as Go's encoder writes it.
    assert list(shown) == [key for key in FIELD_NAMES if key in shown]


def test_privileged_has_no_masked_paths_and_no_labels(
    engine: EngineProcess, expected: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    post_create(engine, "privileged", PRIVILEGED_BODY)
    assert host_config(engine, "privileged") == expected(DOCKERD_PRIVILEGED)


def test_what_the_client_sent_keeps_its_go_shape(
    engine: EngineProcess, expected: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    post_create(engine, "mixed", MIXED_BODY)
    shown = host_config(engine, "mixed")
    assert shown == expected(DOCKERD_MIXED)
    # An empty map is left out, an empty list is kept, a pointer to false is shown, and the
    # "unset" spellings of PidsLimit (0) and MemorySwappiness (-1) read back as null.
    assert "Tmpfs" not in shown and shown["Dns"] == [] and shown["Init"] is False
    assert shown["PidsLimit"] is None and shown["MemorySwappiness"] is None


def test_the_docker_cli_create_matches_dockerd(
    docker: DockerCLI, expected: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    docker("create", "--name", "cli-created", "busybox")
    shown = json.loads(docker("inspect", "cli-created").stdout)[0]["HostConfig"]
    assert shown == expected(DOCKERD_CLI_CREATED)
    template = "{{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}} {{.HostConfig.NetworkMode}}"
    assert docker("inspect", "-f", template, "cli-created").stdout == "67108864 private bridge\n"


def test_a_memory_limit_without_swap_gets_as_much_swap_as_dockerd_gives(
    engine: EngineProcess, docker: DockerCLI
) -> None:
    post_create(engine, "limited", {"Image": "busybox", "HostConfig": {"Memory": 64 << 20}})
    shown = host_config(engine, "limited")
    assert (shown["Memory"], shown["MemorySwap"]) == (64 << 20, 128 << 20)
    docker("create", "--name", "unlimited-swap", "-m", "64m", "--memory-swap", "-1", "busybox")
    template = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"
    assert docker("inspect", "-f", template, "unlimited-swap").stdout == f"{64 << 20} -1\n"


def test_the_container_list_names_the_default_network_bridge(
    engine: EngineProcess, docker: DockerCLI
) -> None:
    docker("create", "--name", "listed", "busybox")
    filters = urllib.parse.quote(json.dumps({"name": ["listed"]}))
    response = engine.request("GET", f"/v1.47/containers/json?all=1&filters={filters}")
    (row,) = json.loads(response.body)
    assert row["HostConfig"] == {"NetworkMode": "bridge"}


def test_the_view_fills_defaults_for_the_hosts_cgroup_version() -> None:
    v2 = host_config_view({}, cgroup_version="2", runtime="runc", masked_paths=[])
    v1 = host_config_view({}, cgroup_version="1", runtime="runc", masked_paths=[])
    assert (v2["CgroupnsMode"], v1["CgroupnsMode"]) == ("private", "host")
    given = host_config_view(
        {"CgroupnsMode": "host", "Runtime": "crun", "CapDrop": "NET_RAW", "ConsoleSize": [3, 4]},
        cgroup_version="2", runtime="runc",
    )  # fmt: skip
    assert given["CgroupnsMode"] == "host" and given["Runtime"] == "crun"
    assert given["CapDrop"] == ["NET_RAW"] and given["ConsoleSize"] == [3, 4]
    assert v1["MaskedPaths"] == [] and v1["ReadonlyPaths"] == [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]  # fmt: skip


def test_thermal_throttle_directories_are_masked_in_cpu_order(tmp_path: Path) -> None:
    for cpu in (10, 2, 0):
        (tmp_path / f"cpu{cpu}" / "thermal_throttle").mkdir(parents=True)
    (tmp_path / "cpu1").mkdir()
    found = default_masked_paths(tmp_path)
    assert found[-3:] == [str(tmp_path / f"cpu{n}" / "thermal_throttle") for n in (0, 2, 10)]
    moby = DOCKERD_MINIMAL["MaskedPaths"]
    interrupts, powercap = MOBY_28_MASKED_ADDITIONS
    assert found[:-3] == [*moby[:2], interrupts, *moby[2:], powercap]
