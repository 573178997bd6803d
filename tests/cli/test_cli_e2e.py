"""The installed `doca` command against a real doca-engine, next to the real docker CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("loaded_busybox")]

DOCA = Path(sys.executable).with_name("doca")


def doca(host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(DOCA), "-H", host, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def engine_host(engine: EngineProcess) -> str:
    return engine.host


def test_run_rm_prints_output_and_exits_0(engine_host: str, docker: DockerCLI) -> None:
    result = doca(engine_host, "run", "--rm", "--name", "hi", "busybox", "echo", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    assert "hi" not in docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_run_exits_with_the_container_code(engine_host: str, docker: DockerCLI) -> None:
    result = doca(
        engine_host, "run", "--name", "exit3", "-e", "WHO=doca", "busybox",
        "sh", "-c", "echo $WHO; echo err >&2; exit 3",
    )  # fmt: skip
    assert result.returncode == 3
    assert result.stdout == "doca\n"
    assert result.stderr == "err\n"
    assert docker("inspect", "--format", "{{.State.ExitCode}}", "exit3").stdout.strip() == "3"
    assert doca(engine_host, "rm", "exit3").stdout == "exit3\n"


def test_run_unknown_command_exits_127(engine_host: str) -> None:
    result = doca(engine_host, "run", "--rm", "busybox", "nosuchcmd")
    assert result.returncode == 127
    assert result.stderr.startswith("Error response from daemon: ")
    assert "executable file not found" in result.stderr


def test_run_unknown_image_exits_125(engine_host: str) -> None:
    result = doca(engine_host, "run", "--rm", "no-such-image:1")
    assert result.returncode == 125
    # as docker: the local lookup is reported first, then why the pull failed
    assert result.stderr.startswith("Unable to find image 'no-such-image:1' locally\n")
    assert "Traceback" not in result.stderr


def test_ps_lists_a_container_made_by_docker(engine_host: str, docker: DockerCLI) -> None:
    cid = docker("create", "--name", "made-by-docker", "busybox", "true").stdout.strip()
    try:
        running = doca(engine_host, "ps")
        assert running.returncode == 0
        assert running.stdout.split("\n")[0].split() == [
            "CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES",
        ]  # fmt: skip
        assert "made-by-docker" not in running.stdout
        every = doca(engine_host, "ps", "-a")
        line = next(row for row in every.stdout.splitlines() if "made-by-docker" in row)
        assert line.startswith(cid[:12])
        assert '"true"' in line and "Created" in line
        assert cid[:12] in doca(engine_host, "ps", "-aq").stdout.split()
        assert (
            '"Names":"made-by-docker"' in doca(engine_host, "ps", "-a", "--format", "json").stdout
        )
    finally:
        docker("rm", "-f", cid)


def test_detached_logs_stop_start_and_rm_force(engine_host: str, docker: DockerCLI) -> None:
    script = "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    result = doca(engine_host, "run", "-d", "--name", "svc", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    cid = result.stdout.strip()
    assert len(cid) == 64
    assert "svc" in doca(engine_host, "ps").stdout
    # The output may take a moment to reach the log.
    for _ in range(50):
        if doca(engine_host, "logs", "svc").stdout == "started\n":
            break
        time.sleep(0.1)
    assert doca(engine_host, "logs", "svc").stdout == "started\n"
    assert doca(engine_host, "stop", "svc").stdout == "svc\n"
    assert docker("inspect", "--format", "{{.State.Status}}", "svc").stdout.strip() == "exited"
    assert doca(engine_host, "start", "svc").returncode == 0
    removed = doca(engine_host, "rm", "-f", "svc")
    assert (removed.returncode, removed.stdout) == (0, "svc\n")
    assert "svc" not in docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_images_shows_busybox(engine_host: str, docker: DockerCLI) -> None:
    result = doca(engine_host, "images")
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(row.split()[:2] == ["busybox", "latest"] for row in rows)
    image_id = docker("images", "-q", "busybox").stdout.strip()
    assert image_id in doca(engine_host, "images", "-q").stdout.split()


def test_images_and_volume_ls_match_docker(engine_host: str, docker: DockerCLI) -> None:
    docker("volume", "create", "same")
    try:
        for args in (("images",), ("volume", "ls")):
            assert doca(engine_host, *args).stdout == docker(*args).stdout, args
    finally:
        docker("volume", "rm", "same")


def test_volume_create_ls_rm(engine_host: str, docker: DockerCLI) -> None:
    assert doca(engine_host, "volume", "create", "data1").stdout == "data1\n"
    assert "data1" in docker("volume", "ls", "-q").stdout.split()
    listing = doca(engine_host, "volume", "ls").stdout.splitlines()
    assert listing[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ["local", "data1"] in [row.split() for row in listing[1:]]
    assert doca(engine_host, "volume", "rm", "data1").stdout == "data1\n"
    assert "data1" not in doca(engine_host, "volume", "ls", "-q").stdout.split()


def test_unknown_container_exits_1(engine_host: str) -> None:
    for args in (("rm", "nosuch"), ("stop", "nosuch"), ("logs", "nosuch")):
        result = doca(engine_host, *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("Error response from daemon: No such container")
        assert "Traceback" not in result.stderr


def test_version_info_and_engine_status(engine_host: str) -> None:
    version = doca(engine_host, "version")
    assert version.returncode == 0
    assert version.stdout.startswith("Client:\n") and "\nServer:" in version.stdout
    info = doca(engine_host, "info")
    assert info.returncode == 0 and "Server Version:" in info.stdout
    status = doca(engine_host, "engine", "status")
    assert status.returncode == 0 and "running" in status.stdout


def test_unreachable_engine(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/missing.sock"
    message = f"Cannot connect to the Doca engine at {host}. Is doca-engine running?"
    for args in (("ps",), ("engine", "status"), ("run", "busybox"), ("volume", "ls")):
        result = doca(host, *args)
        assert result.returncode == 1, args
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_networks_and_ports_read_like_docker(engine_host: str, docker: DockerCLI) -> None:
    created = doca(engine_host, "network", "create", "--subnet", "10.219.0.0/24", "cli-net")
    assert created.returncode == 0 and len(created.stdout.strip()) == 64
    try:
        assert doca(engine_host, "network", "ls").stdout == docker("network", "ls").stdout
        run = doca(engine_host, "run", "-d", "--name", "cli-web", "-p", "127.0.0.1::80",
                   "--network", "cli-net", "--ip", "10.219.0.9",
                   "busybox", "sleep", "300")  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert doca(engine_host, "port", "cli-web").stdout == docker("port", "cli-web").stdout
        assert (
            doca(engine_host, "port", "cli-web", "80").stdout
            == docker("port", "cli-web", "80").stdout
        )
        networks = docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "cli-web").stdout
        assert '"IPAddress":"10.219.0.9"' in networks
        assert doca(engine_host, "network", "disconnect", "cli-net", "cli-web").returncode == 0
        assert (
            "cli-net"
            not in docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "cli-web").stdout
        )
        in_use = doca(engine_host, "network", "connect", "--alias", "w", "cli-net", "cli-web")
        assert in_use.returncode == 0, in_use.stderr
        busy = doca(engine_host, "network", "rm", "cli-net")
        assert busy.returncode == 1 and "has active endpoints" in busy.stderr
    finally:
        docker("rm", "-f", "cli-web", check=False)
        docker("network", "rm", "cli-net", check=False)
