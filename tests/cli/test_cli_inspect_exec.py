"""`doca inspect` and `doca exec` against a real doca-engine, next to the real docker CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from doca.client import EngineClient
from tests.support.engine import DockerCLI, EngineProcess

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("loaded_busybox")]

DOCA = Path(sys.executable).with_name("doca")


def doca(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return subprocess.run(
        [str(DOCA), "-H", host, *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture(scope="module")
def box(engine: EngineProcess, docker: DockerCLI) -> Iterator[str]:
    """A running container to exec in and inspect."""
    script = "trap 'exit 0' TERM; while true; do sleep 0.1; done"
    docker("run", "-d", "--name", "box", "busybox", "sh", "-c", script)
    try:
        yield "box"
    finally:
        docker("rm", "-f", "box")


def test_exec_prints_both_streams_and_exits_with_the_code(
    engine: EngineProcess, docker: DockerCLI, box: str
) -> None:
    command = ("sh", "-c", "echo out; echo err >&2; exit 3")
    result = doca(engine.host, "exec", box, *command)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    expected = docker("exec", box, *command, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        expected.returncode, expected.stdout, expected.stderr,
    )  # fmt: skip
    assert doca(engine.host, "exec", box, "true").returncode == 0


def test_exec_env_workdir_and_user(engine: EngineProcess, box: str) -> None:
    result = doca(
        engine.host, "exec", "-e", "WHO=doca", "-w", "/tmp", "-u", "1234:5678", box,
        "sh", "-c", 'echo "$WHO $(pwd) $(id -u):$(id -g)"',
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "doca /tmp 1234:5678\n"), result.stderr


def test_exec_failures_match_docker(engine: EngineProcess, docker: DockerCLI, box: str) -> None:
    missing = doca(engine.host, "exec", box, "no-such-command")
    expected = docker("exec", box, "no-such-command", check=False)
    assert missing.returncode == expected.returncode != 0
    assert missing.stdout == expected.stdout
    nobody = doca(engine.host, "exec", "no-such-box", "true")
    assert nobody.returncode == 1
    assert nobody.stderr.startswith("Error response from daemon: No such container")
    assert nobody.stderr == docker("exec", "no-such-box", "true", check=False).stderr


def test_inspect_equals_docker_inspect(engine: EngineProcess, docker: DockerCLI, box: str) -> None:
    docker("volume", "create", "inspected")
    docker("network", "create", "inspected-net")
    try:
        names = (box, "busybox", "inspected", "inspected-net")
        result = doca(engine.host, "inspect", *names)
        assert result.returncode == 0, result.stderr
        expected = docker("inspect", *names).stdout
        assert json.loads(result.stdout) == json.loads(expected)
        assert [o.get("Name") for o in json.loads(result.stdout)][2:] == [
            "inspected", "inspected-net",
        ]  # fmt: skip
        volume = doca(engine.host, "inspect", "--type", "volume", "inspected").stdout
        # Same text too: 4-space indents, the engine's key order.
        assert volume == docker("inspect", "--type", "volume", "inspected").stdout
        image = doca(engine.host, "inspect", "--type", "image", "busybox")
        assert json.loads(image.stdout) == json.loads(
            docker("inspect", "--type", "image", "busybox").stdout
        )
    finally:
        docker("network", "rm", "inspected-net")
        docker("volume", "rm", "inspected")


@pytest.mark.parametrize(
    "args", [("nosuch",), ("box", "nosuch", "other"), ("--type", "volume", "nosuch")]
)
def test_inspect_of_unknown_names_matches_docker(
    engine: EngineProcess, docker: DockerCLI, box: str, args: tuple[str, ...]
) -> None:
    result = doca(engine.host, "inspect", *args)
    expected = docker("inspect", *args, check=False)
    assert result.returncode == expected.returncode == 1
    assert json.loads(result.stdout) == json.loads(expected.stdout)
    assert result.stderr == expected.stderr


def test_client_exec_run_demultiplexes_and_reports_the_code(
    engine: EngineProcess, box: str
) -> None:
    async def run() -> tuple[int, bytes, bytes]:
        async with EngineClient(engine.host) as client:
            return await client.containers.exec_run(
                box, ["sh", "-c", "echo $A; pwd; echo oops >&2; exit 5"], ["A=1"], "/etc"
            )

    assert asyncio.run(run()) == (5, b"1\n/etc\n", b"oops\n")
