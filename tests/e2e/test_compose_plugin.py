"""`docker compose` runs Doca's Compose once `doca compose plugin install` has linked it into
the docker CLI's plugin directory: the real docker CLI finds it, asks its metadata and hands
it its global flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from doca.compose.plugin import doca_arguments
from tests.support.engine import DOCKER, DockerCLI, EngineProcess

pytestmark = pytest.mark.usefixtures("loaded_busybox")
DOCA = Path(sys.executable).with_name("doca")
REPO = Path(__file__).resolve().parents[2]


def test_global_flags_become_doca_options(tmp_path: Path) -> None:
    assert doca_arguments(["compose", "up", "-d"]) == ["compose", "up", "-d"]
    assert doca_arguments(["-H", "unix:///x.sock", "--debug", "compose", "ps", "-H"]) == [
        "--host", "unix:///x.sock", "compose", "ps", "-H"
    ]  # fmt: skip
    assert doca_arguments(["--context=remote", "-l", "debug", "compose"]) == [
        "--context", "remote", "compose"
    ]  # fmt: skip


def test_docker_compose_runs_doca_compose(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    config = tmp_path / "docker-config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
    env.update(DOCKER_CONFIG=str(config), PYTHONPATH=str(REPO))

    def run(*args: str, program: str = DOCKER) -> subprocess.CompletedProcess[str]:
        return subprocess.run([program, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    installed = run("compose", "plugin", "install", program=str(DOCA))
    assert installed.returncode == 0, installed.stderr
    assert (config / "cli-plugins" / "docker-compose").is_symlink()
    again = run("compose", "plugin", "install", program=str(DOCA))
    assert again.returncode == 0 and "already runs" in again.stdout

    version = run("compose", "version")
    assert version.stdout.startswith("Doca Compose version v"), version.stderr
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    command: [sleep, '60']\n"
        "    stop_grace_period: 1s\n"
    )
    try:
        up = run("-H", engine.host, "compose", "-p", "plug", "up", "-d")
        assert up.returncode == 0, up.stderr
        assert "plug-web-1" in docker("ps", "--format", "{{.Names}}").stdout.split()
        listed = run("-H", engine.host, "compose", "-p", "plug", "ps", "--format", "{{.Name}}")
        assert listed.stdout == "plug-web-1\n"
    finally:
        down = run("-H", engine.host, "compose", "-p", "plug", "down", "-t", "1")
        assert down.returncode == 0, down.stderr
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=plug").stdout == ""
    assert run("compose", "plugin", "uninstall", program=str(DOCA)).returncode == 0
    assert not (config / "cli-plugins" / "docker-compose").exists()
