"""`extends` and `include` side by side with the real Docker Compose v2 binary: `config` prints
the same model for projects spread over several directories, a broken project fails with
Compose's words, and `up` of such a project makes the containers the real binary would."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.compose import DOCA, REAL_COMPOSE, doca, real
from tests.support.engine import DockerCLI, EngineProcess

REPO = Path(__file__).resolve().parents[2]

# Each project: its files, the variables of the environment, the command line's options.
PROJECTS: dict[str, tuple[dict[str, str], dict[str, str], tuple[str, ...]]] = {
    "extends-other-file": (
        {
            "compose.yaml": """
                services:
                  web:
                    extends: {file: common/services.yaml, service: webapp}
                    command: echo "$$HOME"
                    labels: [tier=front]
                    ports: ["127.0.0.1:8080:80"]
                    volumes:
                      - {type: bind, source: ./site, target: /www}
                    networks:
                      back: null
                    healthcheck: {interval: 30s}
                    environment: {MODE: prod, SHARED: null}
                    build:
                      args: {B: "2"}
                  worker:
                    extends: web
                    entrypoint: [/bin/sh, -c]
                    command: [work]
                    expose: ["9000"]
                    profiles: [jobs]
                  db:
                    extends: {file: common/services.yaml, service: db}
                networks:
                  back: {}
                volumes:
                  cache: {}
            """,
            "common/services.yaml": """
                services:
                  webapp:
                    extends: {file: deeper/base.yaml, service: base}
                    image: registry.local/web:${TAG:-dev}
                    build:
                      context: app
                      dockerfile: Dockerfile.web
                      args: [A=1]
                    command: ["old"]
                    entrypoint: /entry.sh
                    env_file: [web.env]
                    environment: [SHARED=base, ONLY=base]
                    labels: {tier: back, app: web}
                    ports: ["8080:80", "127.0.0.1:8080:80"]
                    volumes: ["./static:/www:ro", "cache:/cache"]
                    networks:
                      back: {aliases: [api]}
                    healthcheck:
                      test: ["CMD", "wget", "-q", "localhost"]
                      retries: 3
                    dns: [10.0.0.1]
                    depends_on: [db]
                    profiles: [web]
                  db:
                    image: busybox
            """,
            "common/deeper/base.yaml": """
                services:
                  base:
                    cap_add: [NET_ADMIN]
                    dns: [10.0.0.1, 10.0.0.2]
                    volumes: ["./conf:/conf"]
                    stop_grace_period: 3s
                    restart: on-failure
            """,
            "common/web.env": "FROM_FILE=1\n",
            ".env": "TAG=7\n",
        },
        {"SHARED": "from-the-environment"},
        ("--profile", "web", "--profile", "jobs"),
    ),
    "include": (
        {
            "compose.yaml": """
                include:
                  - stack/compose.yaml
                  - path: [stack/db.yaml, stack/db.override.yaml]
                    project_directory: pd
                    env_file: [stack/db.env]
                services:
                  front:
                    image: busybox
                    depends_on: [api, db]
                    environment: [STACKVAR]
                networks:
                  shared: {}
            """,
            "stack/compose.yaml": """
                include: [parts/cache.yaml]
                services:
                  api:
                    extends: {file: parts/base.yaml, service: base}
                    build: {dockerfile: api.Dockerfile}
                    env_file: api.env
                    volumes: [./logs:/logs]
                    networks: [shared]
                networks:
                  shared: {}
            """,
            "stack/.env": "STACKVAR=from-stack-env\n",
            "stack/api.env": "API=1\n",
            "stack/parts/base.yaml": """
                services:
                  base:
                    image: "api:${STACKVAR:-none}"
                    volumes: [./conf:/conf]
                    environment: [BASE=1, STACKVAR]
            """,
            "stack/parts/cache.yaml": """
                services:
                  cache:
                    image: busybox
                    volumes: [./data:/data, cachevol:/c]
                volumes:
                  cachevol: {}
            """,
            "stack/db.yaml": """
                services:
                  db:
                    image: "db:${DBTAG}"
                    volumes: [./dbdata:/var/lib/db]
                    env_file: db-service.env
                    build: .
            """,
            "stack/db.override.yaml": "services:\n  db:\n    environment: {OVER: 'yes'}\n",
            "stack/db.env": "DBTAG=5\n",
            "pd/db-service.env": "DBS=1\n",
        },
        {},
        (),
    ),
    "override-files": (
        {
            "a.yaml": """
                services:
                  web:
                    image: busybox
                    ports: ["80:80"]
                    networks: {n1: {aliases: [w]}}
                  base:
                    image: busybox
                    environment: {FROM: base-a}
                networks: {n1: {}}
            """,
            "o/b.yaml": """
                services:
                  base:
                    image: alpine
                    environment: {FROM: base-b}
                    profiles: [x]
                  web:
                    extends: base
                    volumes: [./v:/v]
                    networks: [n1]
                  other:
                    extends: {file: ext.yaml, service: e}
            """,
            "ext.yaml": "services:\n  e: {image: e, volumes: [./ev:/ev]}\n",
            "o/ext.yaml": "services:\n  e: {image: not-this-one}\n",
        },
        {},
        ("-f", "a.yaml", "-f", "o/b.yaml", "--profile", "x"),
    ),
}

BROKEN: dict[str, dict[str, str]] = {
    "unknown-service": {"compose.yaml": "services:\n  a:\n    extends: nope\n"},
    "unknown-service-in-file": {
        "compose.yaml": "services:\n  a:\n    extends: {file: other.yaml, service: x}\n",
        "other.yaml": "services:\n  y: {image: busybox}\n",
    },
    "missing-file": {
        "compose.yaml": "services:\n  a:\n    extends: {file: missing.yaml, service: x}\n"
    },
    "no-service-key": {"compose.yaml": "services:\n  a:\n    extends: {file: other.yaml}\n"},
    "extends-cycle": {
        "compose.yaml": "services:\n  a:\n    extends: {file: b.yaml, service: b}\n"
        "  z: {image: busybox}\n",
        "b.yaml": "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n",
    },
    "include-conflict": {
        "compose.yaml": "include: [lib/compose.yaml]\nservices:\n  db: {image: busybox:2}\n",
        "lib/compose.yaml": "services:\n  db: {image: busybox}\n",
    },
    "include-cycle": {
        "compose.yaml": "include: [lib/compose.yaml]\nservices:\n  web: {image: busybox}\n",
        "lib/compose.yaml": "include: [../compose.yaml]\nservices:\n  db: {image: busybox}\n",
    },
    "include-missing": {
        "compose.yaml": "include: [nope.yaml]\nservices:\n  web: {image: busybox}\n"
    },
    "include-missing-env-file": {
        "compose.yaml": "include: [{path: lib/compose.yaml, env_file: missing.env}]\n"
        "services:\n  web: {image: busybox}\n",
        "lib/compose.yaml": "services:\n  db: {image: busybox}\n",
    },
    "extends-an-included-service": {
        "compose.yaml": "include: [lib/compose.yaml]\nservices:\n  web:\n    extends: db\n",
        "lib/compose.yaml": "services:\n  db: {image: busybox}\n",
    },
}


def write_project(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def config(
    tool: list[str], directory: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``config`` needs no engine: DOCKER_HOST points at a socket nobody listens on, so a
    tool that tried to reach one would fail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
    (directory.parent / "docker-config").mkdir(exist_ok=True)
    env.update(DOCKER_HOST=f"unix://{directory.parent}/no-engine.sock",
               DOCKER_CONFIG=str(directory.parent / "docker-config"), PYTHONPATH=str(REPO),
               **(environ or {}))  # fmt: skip
    return subprocess.run([*tool, "-p", "demo", *args], cwd=directory, capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip


@pytest.mark.parametrize("name", PROJECTS)
def test_config_matches_the_real_binary(tmp_path: Path, name: str) -> None:
    files, environ, options = PROJECTS[name]
    directory = tmp_path / "project"
    write_project(directory, files)
    for output in ((), ("--format", "json")):
        expected = config([str(REAL_COMPOSE)], directory, *options, "config", *output,
                          environ=environ)  # fmt: skip
        assert expected.returncode == 0, expected.stderr
        got = config([*DOCA, "compose"], directory, *options, "config", *output, environ=environ)
        assert got.returncode == 0, got.stderr
        assert got.stdout.rstrip("\n") == expected.stdout.rstrip("\n")


@pytest.mark.parametrize("name", BROKEN)
def test_broken_project_fails_in_composes_words(tmp_path: Path, name: str) -> None:
    directory = tmp_path / "project"
    write_project(directory, BROKEN[name])
    expected = config([str(REAL_COMPOSE)], directory, "config")
    got = config([*DOCA, "compose"], directory, "config")
    assert expected.returncode == got.returncode == 1, (expected.stderr, got.stderr)
    # Doca says where, then what Compose says.
    assert expected.stderr.strip() in got.stderr, got.stderr
    assert got.stderr.startswith(str(directory)), got.stderr


UP_PROJECT = {
    "compose.yaml": """
        include:
          - path: backend/compose.yaml
            env_file: backend/vars.env
        services:
          web:
            extends: {file: common/base.yaml, service: base}
            environment: {ROLE: web}
            depends_on: [db]
            labels: {tier: front}
          admin:
            extends: web
            environment: {ROLE: admin}
            volumes: ["./admin:/admin"]
            networks: [default, back]
    """,
    "common/base.yaml": """
        services:
          base:
            image: busybox
            command: [sleep, "300"]
            environment: {BASE: "1"}
            env_file: base.env
            stop_grace_period: 1s
            volumes: ["./shared:/shared:ro"]
    """,
    "backend/compose.yaml": """
        services:
          db:
            extends: {file: ../common/base.yaml, service: base}
            environment: ["DBNAME=${DBNAME}"]
            networks: [back]
        networks:
          back: {}
    """,
    "backend/vars.env": "DBNAME=shop\n",
    "common/base.env": "FROM_FILE=1\n",
}


def containers(docker: DockerCLI) -> dict[str, str]:
    """Name → config hash of the project's containers."""
    rows = docker("ps", "-a", "--filter", "label=com.docker.compose.project=demo", "--format",
                  '{{.Names}} {{.Label "com.docker.compose.config-hash"}}').stdout  # fmt: skip
    return dict(line.split(" ", 1) for line in rows.splitlines() if line.strip())


@pytest.mark.usefixtures("loaded_busybox")
def test_up_creates_the_containers_the_real_binary_would(
    engine: EngineProcess, docker: DockerCLI, tmp_path: Path
) -> None:
    write_project(tmp_path, UP_PROJECT)
    for bind in ("admin", "common/shared"):
        (tmp_path / bind).mkdir(parents=True, exist_ok=True)
    try:
        real(engine, tmp_path, "up", "-d")
        expected = containers(docker)
        real(engine, tmp_path, "down", "-t", "1")
        assert set(expected) == {"demo-web-1", "demo-admin-1", "demo-db-1"}

        doca(engine, tmp_path, "up", "-d")
        assert containers(docker) == expected
        # With the same hashes the real binary keeps what doca made.
        again = real(engine, tmp_path, "up", "-d")
        assert "Recreate" not in again.stderr, again.stderr
    finally:
        doca(engine, tmp_path, "down", "-t", "1", check=False)
        real(engine, tmp_path, "down", "-t", "1", check=False)
