"""`doca compose` beyond up/down, against a real doca-engine and side by side with the real
Compose v2 binary: replicas and `--scale`, runtime keys (resources, secrets, configs), exec,
run, the lifecycle commands, top/port/images/ps output, `up --wait` and `down --rmi`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.compose import DOCA_COMPOSE, REAL_COMPOSE, doca, real, run
from tests.support.engine import DockerCLI, EngineProcess, free_port, wait_for

pytestmark = pytest.mark.usefixtures("loaded_busybox")

SLEEPER = "[sh, -c, 'trap exit TERM; sleep 300 & wait']"

SCALED = f"""
services:
  web:
    image: busybox
    command: {SLEEPER}
    deploy: {{replicas: 2}}
    stop_grace_period: 1s
"""

RUNTIME = f"""
services:
  app:
    image: busybox
    command: {SLEEPER}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    ulimits: {{nofile: {{soft: 100, hard: 200}}}}
    sysctls: {{net.core.somaxconn: 1024}}
    shm_size: 8m
    cap_drop: [NET_RAW]
    security_opt: [no-new-privileges]
    dns_search: [corp]
    group_add: ["1234"]
    secrets: [pw, {{source: token, target: api, mode: 0400}}]
    configs: [{{source: greeting, target: /etc/greeting}}]
    stop_grace_period: 1s
  ro:
    image: busybox
    command: {SLEEPER}
    read_only: true
    tmpfs: [/scratch]
    stop_grace_period: 1s
secrets:
  pw: {{file: ./pw.txt}}
  token: {{environment: API_TOKEN}}
configs:
  greeting: {{content: "hello from config"}}
"""


def containers(docker: DockerCLI, project: str, service: str | None = None) -> list[str]:
    filters = ["--filter", f"label=com.docker.compose.project={project}"]
    if service:
        filters += ["--filter", f"label=com.docker.compose.service={service}"]
    names = docker("ps", "-a", "--format", "{{.Names}}", *filters).stdout.split()
    return sorted(names)


def ids(docker: DockerCLI, project: str) -> set[str]:
    filters = ["--filter", f"label=com.docker.compose.project={project}"]
    return set(docker("ps", "-aq", "--no-trunc", *filters).stdout.split())


def down(engine: EngineProcess, directory: Path) -> None:
    doca(engine, directory, "down", "-t", "1", "-v", check=False)


def test_replicas_and_scale_agree_with_the_real_binary(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    (tmp_path / "compose.yaml").write_text(SCALED)
    try:
        doca(engine, tmp_path, "up", "-d")
        assert containers(docker, "demo") == ["demo-web-1", "demo-web-2"]
        made = ids(docker, "demo")
        # Same names, labels and hashes: the real binary keeps every replica as it is.
        real(engine, tmp_path, "up", "-d")
        assert ids(docker, "demo") == made

        doca(engine, tmp_path, "up", "-d", "--scale", "web=3")
        assert containers(docker, "demo") == ["demo-web-1", "demo-web-2", "demo-web-3"]
        assert made < ids(docker, "demo")
        doca(engine, tmp_path, "up", "-d", "--scale", "web=1", "-t", "1")
        assert containers(docker, "demo") == ["demo-web-1"]
        real(engine, tmp_path, "up", "-d", "--scale", "web=2")
        assert containers(docker, "demo") == ["demo-web-1", "demo-web-2"]
        rows = [json.loads(line) for line in
                doca(engine, tmp_path, "ps", "--format", "json").stdout.splitlines()]  # fmt: skip
        assert sorted(row["Name"] for row in rows) == ["demo-web-1", "demo-web-2"]
        problem = doca(engine, tmp_path, "up", "-d", "--scale", "nope=2", check=False)
        assert (problem.returncode, problem.stderr.strip()) == (1, "no such service: nope")
    finally:
        down(engine, tmp_path)
    assert containers(docker, "demo") == []


def test_runtime_keys_make_the_containers_compose_makes(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    (tmp_path / "compose.yaml").write_text(RUNTIME)
    (tmp_path / "pw.txt").write_text("s3cret\n")
    env = {"API_TOKEN": "t0ken"}
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for directory in (ours, theirs):
        directory.mkdir()
        for name in ("compose.yaml", "pw.txt"):
            (directory / name).write_text((tmp_path / name).read_text())
    try:
        run(DOCA_COMPOSE, engine, ours, "-p", "ours", "up", "-d", env=env)
        run([str(REAL_COMPOSE)], engine, theirs, "-p", "theirs", "up", "-d", env=env)
        mine = json.loads(docker("inspect", "ours-app-1").stdout)[0]
        made = json.loads(docker("inspect", "theirs-app-1").stdout)[0]
        for key in ("Memory", "NanoCpus", "PidsLimit", "Ulimits", "Sysctls", "ShmSize",
                    "CapDrop", "SecurityOpt", "DnsSearch", "GroupAdd"):  # fmt: skip
            assert mine["HostConfig"][key] == made["HostConfig"][key], key
        mine_ro = json.loads(docker("inspect", "ours-ro-1").stdout)[0]["HostConfig"]
        made_ro = json.loads(docker("inspect", "theirs-ro-1").stdout)[0]["HostConfig"]
        for key in ("ReadonlyRootfs", "Tmpfs"):
            assert mine_ro[key] == made_ro[key], key
        assert (mine["Config"]["Labels"]["com.docker.compose.config-hash"]
                == made["Config"]["Labels"]["com.docker.compose.config-hash"])  # fmt: skip
        for container in ("ours-app-1", "theirs-app-1"):
            read = docker("exec", container, "cat", "/run/secrets/pw", "/run/secrets/api",
                          "/etc/greeting")  # fmt: skip
            assert read.stdout == "s3cret\nt0kenhello from config", container
            mode = docker("exec", container, "stat", "-c", "%a", "/run/secrets/api").stdout
            assert mode.strip() == "400"
        # Writing to the read-only root fails; the tmpfs takes writes.
        assert docker("exec", "ours-ro-1", "touch", "/x", check=False).returncode != 0
        docker("exec", "ours-ro-1", "touch", "/scratch/x")
        # Without the variable the secret cannot be made, and Compose says which.
        missing = run(DOCA_COMPOSE, engine, ours, "-p", "ours", "up", "-d", "--force-recreate",
                      check=False)  # fmt: skip
        assert missing.returncode == 1
        assert "API_TOKEN" in missing.stderr
    finally:
        run(DOCA_COMPOSE, engine, ours, "-p", "ours", "down", "-t", "1", check=False)
        run([str(REAL_COMPOSE)], engine, theirs, "-p", "theirs", "down", "-t", "1", check=False)


def test_exec_run_and_lifecycle_commands(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "compose.yaml").write_text(f"""
services:
  web:
    image: busybox
    command: [sh, -c, 'mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w']
    ports: ["127.0.0.1:{port}:80"]
    environment: {{GREETING: hello}}
    stop_grace_period: 1s
""")
    try:
        doca(engine, tmp_path, "up", "-d", "--wait")
        answer = doca(engine, tmp_path, "exec", "-T", "web", "sh", "-c", "echo $GREETING $((6*7))")
        assert answer.stdout == "hello 42\n"
        failed = doca(engine, tmp_path, "exec", "-T", "web", "sh", "-c", "exit 3", check=False)
        assert failed.returncode == 3
        absent = doca(engine, tmp_path, "exec", "-T", "--index", "2", "web", "true", check=False)
        assert absent.returncode == 1
        assert 'service "web" is not running container #2' in absent.stderr

        once = run(DOCA_COMPOSE, engine, tmp_path, "-p", "demo", "run", "--rm", "-T", "-e",
                   "X=1", "-e", "FROM_HOST", "-e", "UNSET", "web", "sh", "-c",
                   "echo run $X $GREETING $FROM_HOST ${UNSET-unset}",
                   env={"FROM_HOST": "h"})  # fmt: skip
        assert once.stdout == "run 1 hello h unset\n"
        assert containers(docker, "demo") == ["demo-web-1"]  # --rm removed the one-off
        detached = doca(engine, tmp_path, "run", "-d", "web", "sleep", "30").stdout.strip()
        labels = json.loads(docker("inspect", detached).stdout)[0]["Config"]["Labels"]
        assert labels["com.docker.compose.oneoff"] == "True"
        assert re.fullmatch(r"[0-9a-f]{64}", labels["com.docker.compose.slug"])
        # A one-off is not one of the service's containers for ps, but down removes it.
        names = doca(engine, tmp_path, "ps", "--format", "{{.Name}}").stdout.split()
        assert names == ["demo-web-1"]
        assert (doca(engine, tmp_path, "port", "web", "80").stdout
                == real(engine, tmp_path, "port", "web", "80").stdout
                == f"127.0.0.1:{port}\n")  # fmt: skip

        ours = doca(engine, tmp_path, "top").stdout.splitlines()
        theirs = real(engine, tmp_path, "top").stdout.splitlines()
        assert ours[0].split() == theirs[0].split() and ours[0].split()[:2] == ["SERVICE", "#"]
        assert len(ours) == len(theirs) and "httpd" in ours[1]
        assert _normalised(doca(engine, tmp_path, "images").stdout) == _normalised(
            real(engine, tmp_path, "images").stdout
        )
        assert _normalised(doca(engine, tmp_path, "ps").stdout) == _normalised(
            real(engine, tmp_path, "ps").stdout
        )

        doca(engine, tmp_path, "pause")
        assert _state(docker, "demo-web-1") == "paused"
        doca(engine, tmp_path, "unpause")
        assert _state(docker, "demo-web-1") == "running"
        before = json.loads(docker("inspect", "demo-web-1").stdout)[0]["State"]["StartedAt"]
        doca(engine, tmp_path, "restart", "-t", "1")
        after = json.loads(docker("inspect", "demo-web-1").stdout)[0]["State"]["StartedAt"]
        assert after != before and _state(docker, "demo-web-1") == "running"
        doca(engine, tmp_path, "kill")
        # Compose names SIGKILL, and a kill that names its signal returns once it is sent.
        wait_for(lambda: _state(docker, "demo-web-1") == "exited", timeout=10)
        doca(engine, tmp_path, "rm", "-f")
        assert containers(docker, "demo", "web") == [containers(docker, "demo")[0]]
    finally:
        doca(engine, tmp_path, "down", "-t", "1", "--remove-orphans")
    assert containers(docker, "demo") == []


def _state(docker: DockerCLI, container: str) -> str:
    return docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip()


def _normalised(table: str) -> str:
    """ps output with durations blanked (the two runs are seconds apart)."""
    return re.sub(r"\d+ seconds?|About a minute|\d+ minutes?|Less than a second", "T", table)


def test_up_wait_fails_for_an_exiting_service_and_down_rmi_removes_images(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    docker("tag", "busybox", "doca-rmi-test:1")
    (tmp_path / "compose.yaml").write_text(f"""
services:
  gone:
    image: doca-rmi-test:1
    command: [sh, -c, 'exit 4']
  stays:
    image: doca-rmi-test:1
    command: {SLEEPER}
    stop_grace_period: 1s
""")
    try:
        waited = doca(engine, tmp_path, "up", "-d", "--wait", check=False)
        assert waited.returncode == 1
        assert "demo-gone-1 exited (4)" in waited.stderr
        doca(engine, tmp_path, "down", "-t", "1", "--rmi", "all")
        assert docker("image", "inspect", "doca-rmi-test:1", check=False).returncode == 1
        assert docker("image", "inspect", "busybox").returncode == 0
    finally:
        doca(engine, tmp_path, "down", "-t", "1", check=False)
        docker("rmi", "doca-rmi-test:1", check=False)
