"""The flags of `run`, `create`, `exec` and `update` read as the docker CLI 28 reads them: the
ContainerCreate bodies below are what the docker CLI sent for the same command lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from doca.cli import container_limits as limits
from doca.cli.container_command import IMAGE_COMMAND, DockerCommand
from doca.cli.container_config import create_body
from doca.cli.container_exec import exec_config
from doca.cli.container_fs import commit_reference
from doca.cli.container_keyvalues import (
    read_env,
    read_labels,
    security_options,
    validate_extra_host,
)
from doca.cli.container_lifecycle import update_config
from doca.cli.container_mounts import apply_volumes, parse_mount, split_volume
from doca.cli.run_flags import FlagError, container_flags

# `docker create busybox`, as the docker CLI 28 sent it.
DOCKER_DEFAULT_HOST_CONFIG: dict[str, Any] = {
    "AutoRemove": False, "Binds": None, "BlkioDeviceReadBps": [], "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteBps": [], "BlkioDeviceWriteIOps": [], "BlkioWeight": 0,
    "BlkioWeightDevice": [], "CapAdd": None, "CapDrop": None, "Cgroup": "", "CgroupParent": "",
    "CgroupnsMode": "", "ConsoleSize": [0, 0], "ContainerIDFile": "", "CpuCount": 0,
    "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpuShares": 0, "CpusetCpus": "", "CpusetMems": "",
    "DeviceCgroupRules": None, "DeviceRequests": None, "Devices": [], "Dns": [],
    "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None,
    "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "IpcMode": "", "Isolation": "", "Links": None,
    "LogConfig": {"Config": {}, "Type": ""}, "MaskedPaths": None, "Memory": 0,
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": -1, "NanoCpus": 0,
    "NetworkMode": "default", "OomKillDisable": False, "OomScoreAdj": 0, "PidMode": "",
    "PidsLimit": 0, "PortBindings": {}, "Privileged": False, "PublishAllPorts": False,
    "ReadonlyPaths": None, "ReadonlyRootfs": False,
    "RestartPolicy": {"MaximumRetryCount": 0, "Name": "no"}, "SecurityOpt": None,
    "ShmSize": 0, "UTSMode": "", "Ulimits": [], "UsernsMode": "", "VolumeDriver": "",
    "VolumesFrom": None,
}  # fmt: skip
DOCKER_DEFAULT_CONFIG: dict[str, Any] = {
    "AttachStderr": True, "AttachStdin": False, "AttachStdout": True, "Cmd": None,
    "Domainname": "", "Entrypoint": None, "Env": None, "Hostname": "", "Image": "busybox",
    "Labels": {}, "OnBuild": None, "OpenStdin": False, "StdinOnce": False, "Tty": False,
    "User": "", "Volumes": {}, "WorkingDir": "",
}  # fmt: skip

# `docker create -it -v /a:/b:ro -v vol:/c -v /anon --mount type=tmpfs,target=/t,tmpfs-size=1m
# --mount type=volume,source=v2,target=/v2,volume-label=a=b --tmpfs /scratch:size=1m -w /w
# -u 1:2 --entrypoint sh -l a=1 -l b --hostname h --add-host db:1.2.3.4 --dns 8.8.8.8 --init
# -m 64m --cpus 1.5 --pids-limit 10 --cap-add NET_ADMIN --cap-drop CHOWN --privileged
# --read-only --security-opt no-new-privileges --health-cmd true --health-interval 1s
# --health-retries 3 --stop-signal SIGINT --stop-timeout 5 --shm-size 1m
# --ulimit nofile=10:20 --device /dev/null:/dev/nul2:r --expose 80 --expose 90-91/udp
# -p 8080:80 --mac-address 92:d0:c6:0a:29:33 --ip6 fd00::5 --log-driver json-file
# --log-opt max-size=1m -e A=1 --restart on-failure:3 busybox echo hi`: what differs from
# the default body.
COMPLEX_ARGS = [
    "-it", "-v", "/a:/b:ro", "-v", "vol:/c", "-v", "/anon",
    "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
    "--mount", "type=volume,source=v2,target=/v2,volume-label=a=b",
    "--tmpfs", "/scratch:size=1m", "-w", "/w", "-u", "1:2", "--entrypoint", "sh",
    "-l", "a=1", "-l", "b", "--hostname", "h", "--add-host", "db:1.2.3.4", "--dns", "8.8.8.8",
    "--init", "-m", "64m", "--cpus", "1.5", "--pids-limit", "10", "--cap-add", "NET_ADMIN",
    "--cap-drop", "CHOWN", "--privileged", "--read-only", "--security-opt",
    "no-new-privileges", "--health-cmd", "true", "--health-interval", "1s",
    "--health-retries", "3", "--stop-signal", "SIGINT", "--stop-timeout", "5",
    "--shm-size", "1m", "--ulimit", "nofile=10:20", "--device", "/dev/null:/dev/nul2:r",
    "--expose", "80", "--expose", "90-91/udp", "-p", "8080:80",
    "--mac-address", "92:d0:c6:0a:29:33", "--ip6", "fd00::5", "--log-driver", "json-file",
    "--log-opt", "max-size=1m", "-e", "A=1", "--restart", "on-failure:3",
    "busybox", "echo", "hi",
]  # fmt: skip
COMPLEX_CONFIG = {
    "AttachStdin": True, "Cmd": ["echo", "hi"], "Entrypoint": ["sh"], "Env": ["A=1"],
    "ExposedPorts": {"80/tcp": {}, "90/udp": {}, "91/udp": {}},
    "Healthcheck": {"Interval": 1000000000, "Retries": 3, "Test": ["CMD-SHELL", "true"]},
    "Hostname": "h", "Labels": {"a": "1", "b": ""}, "OpenStdin": True, "StdinOnce": True,
    "StopSignal": "SIGINT", "StopTimeout": 5, "Tty": True, "User": "1:2",
    "Volumes": {"/anon": {}}, "WorkingDir": "/w",
}  # fmt: skip
COMPLEX_HOST_CONFIG = {
    "Binds": ["/a:/b:ro", "vol:/c"], "CapAdd": ["CAP_NET_ADMIN"], "CapDrop": ["CAP_CHOWN"],
    "Devices": [{"CgroupPermissions": "r", "PathInContainer": "/dev/nul2",
                 "PathOnHost": "/dev/null"}],
    "Dns": ["8.8.8.8"], "ExtraHosts": ["db:1.2.3.4"], "Init": True,
    "LogConfig": {"Config": {"max-size": "1m"}, "Type": "json-file"}, "Memory": 67108864,
    "Mounts": [
        {"Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}, "Type": "tmpfs"},
        {"Source": "v2", "Target": "/v2", "Type": "volume",
         "VolumeOptions": {"DriverConfig": {}, "Labels": {"a": "b"}}},
    ],
    "NanoCpus": 1500000000, "PidsLimit": 10,
    "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, "Privileged": True,
    "ReadonlyRootfs": True, "RestartPolicy": {"MaximumRetryCount": 3, "Name": "on-failure"},
    "SecurityOpt": ["no-new-privileges"], "ShmSize": 1048576, "Tmpfs": {"/scratch": "size=1m"},
    "Ulimits": [{"Hard": 20, "Name": "nofile", "Soft": 10}],
}  # fmt: skip


@click.command(cls=DockerCommand, context_settings=IMAGE_COMMAND)
@container_flags(run=False)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def _create(image: str, command: tuple[str, ...], **values: Any) -> None:
    try:
        body = create_body(values, image, command, {"HOME": "/root"})
    except FlagError as error:
        click.echo(json.dumps({"error": str(error), "usage": error.usage}))
        return
    click.echo(json.dumps(body))


def body_for(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(_create, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def _without_defaults(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    host = body.pop("HostConfig")
    config = {k: v for k, v in body.items() if DOCKER_DEFAULT_CONFIG.get(k, "?") != v}
    config.pop("NetworkingConfig")
    if not config.get("ExposedPorts"):
        config.pop("ExposedPorts", None)
    host = {k: v for k, v in host.items() if DOCKER_DEFAULT_HOST_CONFIG.get(k, "?") != v}
    return config, host


def test_the_default_body_is_the_docker_clis() -> None:
    body = body_for("busybox")
    assert body["HostConfig"] == DOCKER_DEFAULT_HOST_CONFIG
    assert body.pop("NetworkingConfig") == {"EndpointsConfig": {"default": {}}}
    del body["HostConfig"]
    assert {k: v for k, v in body.items() if k != "ExposedPorts"} == DOCKER_DEFAULT_CONFIG


def test_many_flags_give_the_docker_clis_body(monkeypatch: pytest.MonkeyPatch) -> None:
    body = body_for(*COMPLEX_ARGS)
    endpoints = body["NetworkingConfig"]["EndpointsConfig"]
    assert endpoints == {
        "default": {"IPAMConfig": {"IPv6Address": "fd00::5"}, "MacAddress": "92:d0:c6:0a:29:33"}
    }
    assert _without_defaults(body) == (COMPLEX_CONFIG, COMPLEX_HOST_CONFIG)


@pytest.mark.parametrize(
    ("args", "config", "host"),
    [
        (["--entrypoint=", "busybox"], {"Entrypoint": [""]}, {}),
        (["-a", "stdin", "-a", "STDOUT", "busybox"],
         {"AttachStdin": True, "AttachStderr": False}, {}),
        (["--init=false", "--privileged=true", "--rm", "busybox"], {},
         {"Init": False, "Privileged": True, "AutoRemove": True}),
        (["--pids-limit=-1", "--memory-swap=-1", "--memory-swappiness", "10", "busybox"], {},
         {"PidsLimit": -1, "MemorySwap": -1, "MemorySwappiness": 10}),
        (["-e=FOO=bar", "-e", "HOME", "-e", "UNSET", "busybox"],
         {"Env": ["FOO=bar", "HOME=/root", "UNSET"]}, {}),
        (["--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
          "busybox"], {},
         {"SecurityOpt": ["seccomp=unconfined"], "MaskedPaths": [], "ReadonlyPaths": []}),
        (["--health-cmd", "exit 0", "--health-start-interval", "500ms", "busybox"],
         {"Healthcheck": {"Test": ["CMD-SHELL", "exit 0"], "StartInterval": 500000000}}, {}),
        (["--no-healthcheck", "--stop-timeout", "0", "busybox"],
         {"Healthcheck": {"Test": ["NONE"]}, "StopTimeout": 0}, {}),
        (["-p", "published=8080,target=80", "-P", "busybox"],
         {"ExposedPorts": {"80/tcp": {}}},
         {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
          "PublishAllPorts": True}),
        (["--cap-add", "all", "--cap-add", "cap_chown", "--cap-add", "chown", "busybox"], {},
         {"CapAdd": ["ALL", "CAP_CHOWN"]}),
        (["--ulimit", "nproc=5", "--ulimit", "core=-1", "--ulimit", "nproc=6", "busybox"], {},
         {"Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1},
                      {"Name": "nproc", "Soft": 6, "Hard": 6}]}),
        (["--mount", "type=bind,src=/tmp,dst=/x,readonly,bind-propagation=rshared",
          "busybox"], {},
         {"Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/x", "ReadOnly": True,
                      "BindOptions": {"Propagation": "rshared"}}]}),
    ],
)  # fmt: skip
def test_flags_into_the_body(args: list[str], config: dict[str, Any], host: dict[str, Any]) -> None:
    body = body_for(*args)
    assert _without_defaults(body) == (config, host)


@pytest.mark.parametrize(
    ("args", "endpoints", "mode"),
    [
        (["--network", "n1", "busybox"], {}, "n1"),
        (["--network", "n1", "--network-alias", "x", "--ip", "10.0.0.5", "busybox"],
         {"n1": {"Aliases": ["x"], "IPAMConfig": {"IPv4Address": "10.0.0.5"}}}, "n1"),
        (["--net", "n1", "--network", "name=n2,alias=y,driver-opt=a=b", "busybox"],
         {"n1": {}, "n2": {"Aliases": ["y"], "DriverOpts": {"a": "b"}}}, "n1"),
        (["--network", "host", "busybox"], {}, "host"),
        (["--network", "n1", "--link", "other:o", "busybox"], {"n1": {"Links": ["other:o"]}},
         "n1"),
    ],
)  # fmt: skip
def test_networks(args: list[str], endpoints: dict[str, Any], mode: str) -> None:
    body = body_for(*args)
    assert body["NetworkingConfig"]["EndpointsConfig"] == endpoints
    assert body["HostConfig"]["NetworkMode"] == mode


@pytest.mark.parametrize(
    ("args", "error", "usage"),
    [
        (["-m", "x", "busybox"], "invalid argument \"x\" for \"-m, --memory\" flag: invalid "
         "size: 'x'", True),
        (["--cpus", "0.0000000001", "busybox"], 'invalid argument "0.0000000001" for "--cpus" '
         "flag: value is too precise", True),
        (["--health-interval", "1x", "busybox"], 'invalid argument "1x" for '
         '"--health-interval" flag: time: unknown unit "x" in duration "1x"', True),
        (["--ulimit", "bad=1", "busybox"], 'invalid argument "bad=1" for "--ulimit" flag: '
         "invalid ulimit type: bad", True),
        (["-a", "nope", "busybox"], 'invalid argument "nope" for "-a, --attach" flag: valid '
         "streams are STDIN, STDOUT and STDERR", True),
        (["--no-healthcheck", "--health-cmd", "x", "busybox"],
         "--no-healthcheck conflicts with --health-* options", False),
        (["--rm", "--restart", "always", "busybox"],
         "conflicting options: cannot specify both --restart and --rm", False),
        (["--network-alias", "x", "busybox"],
         "network-scoped aliases are only supported for user-defined networks", False),
        (["--network", "n1", "--network", "host", "busybox"], "conflicting options: cannot "
         "attach both user-defined and non-user-defined network-modes", False),
        (["--mac-address", "nope", "busybox"], "nope is not a valid mac address", False),
        (["--expose", "1:2", "busybox"], "invalid port format for --expose: 1:2", False),
        (["--label-file", "/nonexistent", "busybox"],
         "open /nonexistent: no such file or directory", False),
        (["--pid", "bogus", "busybox"], "--pid: invalid PID mode", False),
        (["-v", "/a::b", "busybox"], "invalid spec: /a::b: empty section between colons",
         False),
        (["--mount", "type=bind", "busybox"],
         'invalid argument "type=bind" for "--mount" flag: target is required', True),
        (["--security-opt", "seccomp", "busybox"], 'Invalid --security-opt: "seccomp"', False),
    ],
)  # fmt: skip
def test_flags_the_docker_cli_refuses(args: list[str], error: str, usage: bool) -> None:
    assert body_for(*args) == {"error": error, "usage": usage}


def test_options_end_at_the_image() -> None:
    body = body_for("busybox", "sh", "--rm=false", "-e=X")
    assert body["Cmd"] == ["sh", "--rm=false", "-e=X"]
    assert body["HostConfig"]["AutoRemove"] is False


def test_go_spellings_before_the_image_only() -> None:
    spell = _create.go_spellings
    assert spell(["--rm=true", "-e=A=1", "--init=false", "-it", "busybox", "--rm=true"]) == [
        "--rm", "-eA=1", "--no-init", "-it", "busybox", "--rm=true",
    ]  # fmt: skip
    # A value in the next argument is not the image; nor is the value of grouped flags.
    assert spell(["-e", "A", "--rm=false", "-ip", "80", "--tty=1", "img"]) == [
        "-e", "A", "-ip", "80", "--tty", "img",
    ]  # fmt: skip


def test_flag_errors_exit_125_and_missing_arguments_1() -> None:
    runner = CliRunner()
    assert runner.invoke(_create, ["--bogus", "busybox"]).exit_code == 125
    assert runner.invoke(_create, []).exit_code == 1


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("0", 0), ("1s", 10**9), ("1m30s", 90 * 10**9), ("1.5h", 5400 * 10**9), ("500ms", 5 * 10**8),
     ("2us", 2000), ("-1s", -(10**9)), ("1h2m3s4ms", 3723004000000)],
)  # fmt: skip
def test_go_durations(text: str, nanoseconds: int) -> None:
    assert limits.parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "error"),
    [("", 'time: invalid duration ""'), ("1", 'time: missing unit in duration "1"'),
     ("1d", 'time: unknown unit "d" in duration "1d"'), ("s", 'time: invalid duration "s"')],
)  # fmt: skip
def test_bad_go_durations(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        limits.parse_duration(text)


def test_numbers_cpus_devices_ulimits_and_restart_policies() -> None:
    assert limits.parse_cpus("1.5") == 1_500_000_000
    assert limits.parse_cpus("3/2") == 1_500_000_000
    with pytest.raises(ValueError, match="failed to parse x as a rational number"):
        limits.parse_cpus("x")
    assert limits.parse_device("/dev/null") == {
        "PathOnHost": "/dev/null", "PathInContainer": "/dev/null", "CgroupPermissions": "rwm",
    }  # fmt: skip
    assert limits.parse_device("/dev/null:rw")["CgroupPermissions"] == "rw"
    assert limits.parse_device("/dev/sda:/dev/xvda")["PathInContainer"] == "/dev/xvda"
    with pytest.raises(ValueError, match="bad mode specified: rx"):
        limits.parse_device("/dev/a:/dev/b:rx")
    with pytest.raises(ValueError, match="dev/b is not an absolute path"):
        limits.parse_device("/dev/a:dev/b")
    assert limits.parse_ulimit("nofile=10") == {"Name": "nofile", "Soft": 10, "Hard": 10}
    with pytest.raises(ValueError, match="soft limit must be less than or equal"):
        limits.parse_ulimit("nofile=20:10")
    assert limits.parse_restart_policy("on-failure:3") == {
        "Name": "on-failure", "MaximumRetryCount": 3,
    }  # fmt: skip
    with pytest.raises(ValueError, match="maximum retry count must be an integer"):
        limits.parse_restart_policy("on-failure:x")
    with pytest.raises(ValueError, match="no policy provided before colon"):
        limits.parse_restart_policy(":1")


def test_volume_specs() -> None:
    assert split_volume("/data") == ("", "/data")
    assert split_volume("name:/data:ro") == ("name", "/data")
    assert split_volume("c:/x:/y") == ("c:/x", "/y")
    with pytest.raises(ValueError, match="too many colons"):
        split_volume("/a:/b:ro:extra")
    config: dict[str, Any] = {"HostConfig": {}}
    apply_volumes(config, ["/anon", "./rel:/r", "named:/n", "/anon"])
    assert config["Volumes"] == {"/anon": {}}
    binds = config["HostConfig"]["Binds"]
    assert binds[0].endswith("/rel:/r") and binds[0].startswith("/") and binds[1] == "named:/n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("type=bind,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type"),
        ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
        ("target=/x,color=red", "unexpected key 'color' in 'color=red'"),
        ("type=bind,target=/x,bind-recursive=readonly,readonly",
         "requires 'bind-propagation=rprivate'"),
    ],
)  # fmt: skip
def test_bad_mounts(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("*", r"\*")):
        parse_mount(text)


def test_env_and_label_files(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_bytes(b"\xef\xbb\xbf# comment\n\n  A=1\nB= spaced \nHOME\nMISSING\r\nC=x=y\n")
    assert read_env([str(env_file)], ["D=4"], {"HOME": "/root"}) == [
        "A=1", "B= spaced ", "HOME=/root", "MISSING", "C=x=y", "D=4",
    ]  # fmt: skip
    labels = tmp_path / "labels"
    labels.write_text("a=1\nflag\n")
    assert read_labels([str(labels)], ["a=2"]) == {"a": "2", "flag": ""}
    bad = tmp_path / "bad"
    bad.write_text("A B=1\n")
    with pytest.raises(ValueError, match="variable 'A B' contains whitespaces"):
        read_env([str(bad)], [], {})


def test_hosts_and_security_options(tmp_path: Path) -> None:
    assert validate_extra_host("db=10.0.0.1") == "db:10.0.0.1"
    assert validate_extra_host("v6:[::1]") == "v6:::1"
    assert validate_extra_host("gw:host-gateway") == "gw:host-gateway"
    with pytest.raises(ValueError, match='invalid IP address in add-host: "nope"'):
        validate_extra_host("db:nope")
    profile = tmp_path / "profile.json"
    profile.write_text('{ "defaultAction": "SCMP_ACT_ALLOW" }')
    assert security_options([f"seccomp={profile}", "label:disable"]) == (
        ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', "label:disable"], False,
    )  # fmt: skip


def test_exec_config_is_the_docker_clis() -> None:
    assert exec_config(True, (24, 80), False, True, "ctrl-a") == {
        "AttachStdin": True, "AttachStdout": True, "AttachStderr": True, "Tty": True,
        "Privileged": True, "DetachKeys": "ctrl-a", "ConsoleSize": [24, 80],
    }  # fmt: skip
    detached = exec_config(True, None, True, False, "")
    assert (detached["AttachStdin"], detached["AttachStdout"], detached["Tty"]) == (
        False, False, False,
    )  # fmt: skip


def test_update_body_is_the_docker_clis() -> None:
    # `docker update --cpus 1 --pids-limit 5 --restart always`, as the docker CLI sent it.
    values = {"cpus": "1", "pids_limit": "5", "restart": "always"}
    assert update_config(values) == {
        "CpuShares": 0, "Memory": 0, "NanoCpus": 1000000000, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None,
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": None, "DeviceCgroupRules": None,
        "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": 5, "Ulimits": None,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0},
    }  # fmt: skip
    assert update_config({"memory": "64m"})["Memory"] == 64 * 1024 * 1024


def test_commit_references() -> None:
    assert commit_reference("repo:tag") == ("docker.io/library/repo", "tag")
    assert commit_reference("127.0.0.1:5000/me/app") == ("127.0.0.1:5000/me/app", "latest")
    assert commit_reference("") == ("", "")
    with pytest.raises(ValueError, match="must be lowercase"):
        commit_reference("Bad:Ref")
    with pytest.raises(ValueError, match="refusing to create a tag with a digest reference"):
        commit_reference("app@sha256:" + "a" * 64)
