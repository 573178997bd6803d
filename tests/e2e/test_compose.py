"""Docker Compose v2 (the real ``docker-compose`` binary) against a real doca-engine: a project
with a network, DNS between services, a published port and a named volume, up and down."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.compose import real
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
    labels: {{made-by: test}}
  client:
    image: busybox
    command: ["sh", "-c", "until wget -qO- http://web/; do sleep 0.2; done; sleep 300"]
    depends_on: [web]
    dns: ["127.0.0.202"]
volumes:
  data: {{}}
"""


def test_compose_up_and_down(engine: EngineProcess, docker: DockerCLI, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "compose.yaml").write_text(PROJECT.format(port=port))
    try:
        real(engine, tmp_path, "up", "-d")
        rows = [json.loads(line) for line in real(
            engine, tmp_path, "ps", "--format", "json"
        ).stdout.splitlines()]  # fmt: skip
        assert {r["Service"]: r["State"] for r in rows} == {"web": "running", "client": "running"}

        deadline = time.monotonic() + 20
        while "hello-" not in (logs := real(engine, tmp_path, "logs", "client").stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.read().startswith(b"hello-")

        network = json.loads(docker("network", "inspect", "demo_default").stdout)[0]
        assert network["Labels"]["com.docker.compose.network"] == "default"
        assert {c["Name"] for c in network["Containers"].values()} == {
            "demo-web-1",
            "demo-client-1",
        }
        assert "demo_data" in docker("volume", "ls", "--format", "{{.Name}}").stdout.split()

        again = real(engine, tmp_path, "up", "-d")
        assert "Running" in again.stderr  # nothing recreated
    finally:
        real(engine, tmp_path, "down", "-v", "-t", "1", check=False)
    assert "demo_default" not in docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "demo_data" not in docker("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=demo").stdout == ""
