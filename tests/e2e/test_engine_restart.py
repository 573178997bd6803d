"""Containers outlive the engine: a SIGKILL of doca-engine leaves them running, and after a
restart they are listed, can be exec'd into, stopped, and exits that happened meanwhile are
recorded with their real exit codes."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage


@pytest.fixture
def own_engine(test_image: TestImage) -> Iterator[EngineProcess]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    process = EngineProcess(short_root())
    process.start()
    yield process
    if process.proc is None:
        process.start()
    cli = DockerCLI(process.host, process.root)
    ids = cli("ps", "-aq").stdout.split()
    if ids:
        cli("rm", "-f", *ids, check=False)
    process.stop()
    process.cleanup()


def test_sigkill_of_the_engine_keeps_containers(
    own_engine: EngineProcess, test_image: TestImage
) -> None:
    docker = DockerCLI(own_engine.host, own_engine.root)
    docker("load", "-i", str(test_image.save_tar))
    for name in ("one", "two"):
        docker("run", "-d", "--name", name, "busybox", "sleep", "300")
    docker("run", "-d", "--name", "brief", "busybox", "sh", "-c", "sleep 1; exit 42")
    docker("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
           "i=0; while [ $i -lt 40 ]; do echo tick$i; i=$((i+1)); sleep 0.1; done")  # fmt: skip
    pids = {n: json.loads(docker("inspect", n).stdout)[0]["State"]["Pid"] for n in ("one", "two")}

    own_engine.stop(signal.SIGKILL)
    time.sleep(2)  # "brief" exits while the engine is down
    for pid in pids.values():
        os.kill(pid, 0)  # still alive: raises if not

    own_engine.start()
    rows = dict(
        line.split(" ", 1)
        for line in docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.splitlines()
    )
    assert rows["one"] == "running" and rows["two"] == "running"
    brief = json.loads(docker("inspect", "brief").stdout)[0]["State"]
    assert brief["Status"] == "exited" and brief["ExitCode"] == 42
    assert docker("exec", "one", "echo", "still here").stdout == "still here\n"
    follow = docker("logs", "-f", "chatty", timeout=60).stdout.split()
    assert follow[0] == "tick0" and follow[-1] == "tick39" and len(follow) == 40
    docker("stop", "-t", "1", "one", "two")
    for name in ("one", "two"):
        state = json.loads(docker("inspect", name).stdout)[0]["State"]
        assert state["Status"] == "exited"
        with pytest.raises(ProcessLookupError):
            os.kill(pids[name], 0)


def test_restart_policies_at_engine_start(own_engine: EngineProcess, test_image: TestImage) -> None:
    docker = DockerCLI(own_engine.host, own_engine.root)
    docker("load", "-i", str(test_image.save_tar))
    for name, policy in (("always", "always"), ("unless", "unless-stopped"), ("never", "no")):
        docker("run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "300")
        docker("stop", "-t", "0", name)
    own_engine.stop(signal.SIGTERM)
    own_engine.start()
    states = {
        name: json.loads(docker("inspect", name).stdout)[0]["State"]["Status"]
        for name in ("always", "unless", "never")
    }
    # dockerd's rules: "always" comes back even after a manual stop; the others stay stopped.
    assert states == {"always": "running", "unless": "exited", "never": "exited"}
