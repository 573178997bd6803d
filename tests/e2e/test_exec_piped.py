"""Execs without a TTY, which the engine runs as its own child (``crun exec`` with pipes, no
conmon): what the docker CLI sees must stay dockerd's — output, input, exit codes, the runtime's
error once, the end of the exec when its process or its container ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, DockerCLI, EngineProcess, wait_for

pytestmark = pytest.mark.usefixtures("loaded_busybox")


@pytest.fixture(scope="module")
def box(docker: DockerCLI) -> Iterator[str]:
    docker("run", "-d", "--name", "pbox", "--network", "none", "busybox", "sleep", "600")
    yield "pbox"
    docker("rm", "-f", "pbox")


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("PPid:", 1)[1].split()[0])


def test_the_process_is_a_child_of_the_runtime_the_engine_started(
    engine: EngineProcess, docker: DockerCLI, box: str
) -> None:
    docker("exec", "-d", box, "sleep", "30")
    exec_id = json.loads(docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout)[0]
    pid = json.loads(engine.request("GET", f"/v1.47/exec/{exec_id}/json").body)["Pid"]
    runtime = parent_of(pid)
    assert Path(f"/proc/{runtime}/comm").read_text().strip() == "crun"
    assert engine.proc is not None and parent_of(runtime) == engine.proc.pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout == "null\n")
    assert json.loads(engine.request("GET", f"/v1.47/exec/{exec_id}/json").body)["ExitCode"] == 137


def test_output_input_and_exit_code(docker: DockerCLI, box: str) -> None:
    result = docker("exec", box, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    data = b"0123456789abcdef" * 65536  # 1 MiB: more than a pipe holds at once
    assert docker("exec", "-i", box, "wc", "-c", input=data).stdout.strip() == str(len(data))
    big = docker("exec", box, "head", "-c", "3000000", "/dev/zero").stdout
    assert len(big) == 3_000_000


def test_a_process_killed_by_a_signal_exits_128_plus_it(docker: DockerCLI, box: str) -> None:
    assert docker("exec", box, "sh", "-c", "kill -TERM $$", check=False).returncode == 143


def test_the_runtime_error_reaches_the_client_once(docker: DockerCLI, box: str) -> None:
    result = docker("exec", box, "nosuchcmd", check=False)
    assert result.returncode == 127
    assert result.stdout == (
        'OCI runtime exec failed: exec failed: exec: "nosuchcmd": executable file not found '
        "in $PATH: unknown\n"
    )
    assert result.stderr == ""  # crun's own line on the process's stderr is not passed on
    result = docker("exec", "-w", "/nonexistent", box, "pwd", check=False)
    assert result.stdout.startswith("OCI runtime exec failed: exec failed: chdir")
    assert result.stderr == ""


def test_an_exec_ends_with_its_process_though_a_child_keeps_its_output(
    docker: DockerCLI, box: str
) -> None:
    started = time.monotonic()
    result = docker("exec", box, "sh", "-c", "sleep 30 & echo $!", timeout=20)
    assert time.monotonic() - started < 15
    docker("exec", box, "kill", result.stdout.strip())


def test_killing_the_container_ends_its_execs(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "pkill", "--network", "none", "busybox", "sleep", "600")
    try:
        client = subprocess.Popen(
            [DOCKER, "exec", "pkill", "sleep", "60"],
            env=docker.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: docker("top", "pkill").stdout.count("sleep") == 2)
            docker("kill", "pkill")
            assert client.wait(15) == 137
        finally:
            client.kill()
            client.wait()
    finally:
        docker("rm", "-f", "pkill")


def test_a_health_check_past_its_timeout_is_killed(docker: DockerCLI) -> None:
    docker(
        "run", "-d", "--name", "phc", "--network", "none",
        "--health-cmd", "sleep 40", "--health-timeout", "1s", "--health-interval", "5s",
        "--health-start-period", "0s", "busybox", "sleep", "600",
    )  # fmt: skip
    try:

        def timed_out() -> bool:
            state = json.loads(docker("inspect", "-f", "{{json .State.Health}}", "phc").stdout)
            return bool(state and state.get("Log"))

        wait_for(timed_out, timeout=20)
        health = json.loads(docker("inspect", "-f", "{{json .State.Health}}", "phc").stdout)
        assert health["Log"][-1]["Output"] == "Health check exceeded timeout (1s)"
        # Killed at once, not left to run its 40 s beside the next probe (due 5 s later).
        wait_for(lambda: "sleep 40" not in docker("top", "phc").stdout, timeout=4)
    finally:
        docker("rm", "-f", "phc")
