"""`doca compose` against a real doca-engine, side by side with the real Docker Compose v2
binary: each tool manages the project the other made, `config` prints the same model, and an
invalid file creates nothing."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.compose import doca, real
from tests.support.engine import DockerCLI, EngineProcess, free_port

pytestmark = pytest.mark.usefixtures("loaded_busybox")


PROJECT = """
services:
  web:
    image: busybox
    command:
      - sh
      - -c
      - mkdir -p /www && echo hello-$$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www
    ports: ["127.0.0.1:{port}:80"]
    volumes: ["data:/data"]
    networks:
      back:
        aliases: [www]
    labels: {{made-by: test}}
    stop_grace_period: 1s
  client:
    image: busybox
    command: ["sh", "-c", "until wget -qO- http://www/; do sleep 0.2; done; sleep 300"]
    depends_on: [web]
    networks: [back]
    dns: ["127.0.0.202"]
    stop_grace_period: 1s
networks:
  back: {{}}
volumes:
  data: {{}}
"""


def ps_states(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {row["Service"]: row["State"] for row in rows}


def nothing_left(docker: DockerCLI) -> None:
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=demo").stdout == ""
    networks = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "demo_back" not in networks
    assert "demo_data" not in docker("volume", "ls", "--format", "{{.Name}}").stdout.split()


def wait_served(port: int) -> bytes:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                return bytes(response.read())
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_doca_up_then_real_compose_manages_it(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "compose.yaml").write_text(PROJECT.format(port=port))
    try:
        doca(engine, tmp_path, "up", "-d")
        assert wait_served(port).startswith(b"hello-")

        web = json.loads(docker("inspect", "demo-web-1").stdout)[0]
        labels = web["Config"]["Labels"]
        assert labels["com.docker.compose.project"] == "demo"
        assert labels["com.docker.compose.service"] == "web"
        assert labels["com.docker.compose.container-number"] == "1"
        assert labels["com.docker.compose.oneoff"] == "False"
        assert labels["com.docker.compose.project.working_dir"] == str(tmp_path)
        assert labels["made-by"] == "test"
        aliases = web["NetworkSettings"]["Networks"]["demo_back"]["Aliases"]
        assert {"demo-web-1", "web", "www"} <= set(aliases)
        network = json.loads(docker("network", "inspect", "demo_back").stdout)[0]
        assert network["Labels"]["com.docker.compose.network"] == "back"
        assert network["Labels"]["com.docker.compose.project"] == "demo"
        volume = json.loads(docker("volume", "inspect", "demo_data").stdout)[0]
        assert volume["Labels"]["com.docker.compose.volume"] == "data"

        deadline = time.monotonic() + 20  # the client reached web through the alias
        while "hello-" not in (logs := doca(engine, tmp_path, "logs", "client").stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        assert logs.startswith("client-1  | hello-")

        again = doca(engine, tmp_path, "up", "-d")
        assert "demo-web-1  Running" in again.stderr

        assert ps_states(real(engine, tmp_path, "ps", "--format", "json")) == {
            "web": "running", "client": "running"
        }  # fmt: skip
        # The real binary computes the same config hash: it keeps both containers.
        real_up = real(engine, tmp_path, "up", "-d")
        assert "Recreate" not in real_up.stderr, real_up.stderr
        real(engine, tmp_path, "down", "-v", "-t", "1")
        nothing_left(docker)
    finally:
        doca(engine, tmp_path, "down", "-v", "-t", "1", check=False)


def test_real_up_then_doca_manages_it(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "compose.yaml").write_text(PROJECT.format(port=port))
    try:
        real(engine, tmp_path, "up", "-d")
        assert wait_served(port).startswith(b"hello-")
        assert ps_states(doca(engine, tmp_path, "ps", "--format", "json")) == {
            "web": "running", "client": "running"
        }  # fmt: skip
        again = doca(engine, tmp_path, "up", "-d")
        assert "Recreate" not in again.stderr, again.stderr
        doca(engine, tmp_path, "down", "-v", "-t", "1")
        nothing_left(docker)
    finally:
        real(engine, tmp_path, "down", "-v", "-t", "1", check=False)


CONFIGS = [
    PROJECT.format(port=8080),
    """
services:
  app:
    image: "busybox:${TAG:-latest}"
    entrypoint: /bin/sh
    command: -c 'echo "$$HOME"'
    environment: [A=1, B]
    env_file: [app.env]
    expose: ["3000", 4000]
    ports: ["9000-9001:9000-9001/udp", {target: 81, published: "8081", host_ip: 127.0.0.1}]
    volumes: ["./src:/src:ro", {type: tmpfs, target: /tmp}, "/anon"]
    healthcheck: {test: wget -q localhost, interval: 90s, retries: 3}
    restart: unless-stopped
    extra_hosts: ["db:127.0.0.3"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    init: true
    user: "1000"
    working_dir: /src
    hostname: app
    tty: true
    stdin_open: true
    privileged: false
    stop_signal: SIGINT
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    networks:
      inner: {ipv4_address: 10.77.0.5}
  debug:
    image: busybox
    profiles: [debug]
networks:
  inner:
    driver: bridge
    internal: true
    labels: [tier=db]
    ipam: {config: [{subnet: 10.77.0.0/24}]}
""",
]


@pytest.mark.parametrize("text", CONFIGS)
def test_config_matches_the_real_binary(engine: EngineProcess, tmp_path: Path, text: str) -> None:
    (tmp_path / "compose.yaml").write_text(text)
    (tmp_path / "app.env").write_text("FROM_FILE=yes\nA=0\n")
    (tmp_path / ".env").write_text("TAG=1.36\n")
    for args in ((), ("--profile", "debug")):
        expected = real(engine, tmp_path, *args, "config").stdout
        assert doca(engine, tmp_path, *args, "config").stdout == expected


def test_invalid_file_names_file_line_key_and_creates_nothing(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        PROJECT.format(port=free_port()).replace(
            "stop_grace_period: 1s\n  client", "stop_grace_period: soon\n  client"
        )
    )
    result = doca(engine, tmp_path, "up", "-d", check=False)
    assert result.returncode == 1
    assert f"{path}:15: services.web.stop_grace_period: invalid duration 'soon'" in result.stderr
    nothing_left(docker)
