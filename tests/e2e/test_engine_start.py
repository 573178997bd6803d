"""The engine answers ``/_ping`` as soon as it listens; what it sets up after that (network,
containers that ran on while it was down) is done before any other request is served: requests
made meanwhile wait, then see the whole engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess, running_engine, short_root
from tests.support.testimage import TestImage

# The network set-up's first step (nft's check of the rules the engine writes) made slow on
# purpose, and leaving a mark when done: a request that sees the mark came after it.
SLOW_NFT_PROBE = """#!/bin/sh
case " $* " in
*" -c "*) sleep 2; {nft} "$@"; status=$?; touch {mark}; exit $status ;;
esac
exec {nft} "$@"
"""


@pytest.fixture
def slow_start(test_image: TestImage) -> Iterator[tuple[EngineProcess, Path]]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nft is not installed")
    root = short_root()
    mark = root / "network-set-up"
    tools = root / "tools"
    tools.mkdir()
    wrapper = tools / "nft"
    wrapper.write_text(SLOW_NFT_PROBE.format(nft=nft, mark=mark))
    wrapper.chmod(0o755)
    process = EngineProcess(root, env={"PATH": f"{tools}:{os.environ['PATH']}"})
    process.start()
    yield process, mark
    if process.proc is None:
        process.start()
    cli = DockerCLI(process.host, root)
    ids = cli("ps", "-aq").stdout.split()
    if ids:
        cli("rm", "-f", *ids, check=False)
    process.stop()
    process.cleanup()
    shutil.rmtree(root, ignore_errors=True)


def test_requests_during_start_wait_for_the_whole_engine(
    slow_start: tuple[EngineProcess, Path], test_image: TestImage
) -> None:
    engine, mark = slow_start
    docker = DockerCLI(engine.host, engine.root)
    docker("load", "-i", str(test_image.save_tar))
    docker("run", "-d", "--name", "long", "busybox", "sleep", "300")
    docker("run", "-d", "--name", "brief", "busybox", "sh", "-c", "sleep 2; exit 7")
    assert engine.stop(signal.SIGTERM) == 0  # the containers run on under conmon
    mark.unlink()

    engine.start()  # returns once /_ping answers
    assert not mark.exists(), "/_ping waited for the network set-up"
    version = engine.request("GET", "/version")
    assert version.status == 200 and json.loads(version.body)["ApiVersion"] == "1.47"

    rows = docker("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    assert mark.exists(), "a request was served before the network set-up ended"
    assert "long running" in rows
    # "brief" exits while the engine is down or while it starts: either way its exit is
    # recorded with its code, and a wait made during the start sees it.
    assert docker("wait", "brief", timeout=60).stdout.strip() == "7"
    assert docker("exec", "long", "echo", "still here").stdout == "still here\n"


def test_a_stopped_engine_removes_its_socket_file() -> None:
    """As dockerd: no socket file left behind for clients to find after a clean stop."""
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    with running_engine() as engine:
        assert engine.socket.is_socket()
        assert engine.stop() == 0
        assert not engine.socket.exists()
