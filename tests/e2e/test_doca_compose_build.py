"""`doca compose build` and `build:` in `doca compose up` against a real doca-engine, side by
side with the real Docker Compose v2 and its classic builder (DOCKER_BUILDKIT=0): the same
model in `config`, the same images, and each tool keeps what the other built."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.compose import REAL_COMPOSE, doca, tool_env
from tests.support.engine import DockerCLI, EngineProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("loaded_busybox")]

PROJECT = """
services:
  app:
    build:
      context: ./app
      args:
        GREETING: hello
        FROM_ENV:
      labels:
        org.example.made-by: test
    command: ["sh", "-c", "cat /greeting; exec sleep 300"]
    stop_grace_period: 1s
  plain:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
"""
DOCKERFILE = """\
FROM busybox
ARG GREETING=none
ARG FROM_ENV=unset
RUN echo "$GREETING $FROM_ENV" > /greeting
"""
BUILDER_LABEL = "com.docker.compose.image.builder"
IMAGE_LABEL = "com.docker.compose.image"


def real(
    engine: EngineProcess, directory: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real binary with the classic builder, which is the one a doca-engine serves."""
    env = {**tool_env(engine, directory), "DOCKER_BUILDKIT": "0"}
    result = subprocess.run([str(REAL_COMPOSE), "-p", "demo", *args], cwd=directory,
                            capture_output=True, text=True, env=env, timeout=180)  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"compose {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")  # fmt: skip
    return result


def write_project(directory: Path, compose: str = PROJECT, dockerfile: str = DOCKERFILE) -> Path:
    (directory / "app").mkdir(parents=True, exist_ok=True)
    (directory / "app" / "Dockerfile").write_text(dockerfile)
    (directory / "compose.yaml").write_text(compose)
    (directory / ".env").write_text("FROM_ENV=from-dotenv\n")
    # Both tools send every stored login with a build; an entry of its own keeps Compose from
    # asking the desktop's default credential helper (secretservice needs D-Bus).
    (directory / "docker-config").mkdir(exist_ok=True)
    (directory / "docker-config" / "config.json").write_text(
        json.dumps({"auths": {"placeholder.invalid": {}}})
    )
    return directory


def image(docker: DockerCLI, name: str) -> dict[str, Any] | None:
    result = docker("image", "inspect", name, check=False)
    return dict(json.loads(result.stdout)[0]) if result.returncode == 0 else None


def container(docker: DockerCLI, name: str) -> dict[str, Any]:
    return dict(json.loads(docker("inspect", name).stdout)[0])


def remove_images(docker: DockerCLI, *names: str) -> None:
    for name in names:
        docker("rmi", "-f", name, check=False)


def build_lines(stdout: str) -> list[str]:
    """The build output with what differs between runs blanked: IDs, the context's size."""
    text = re.sub(r"Docker daemon +\S+", "Docker daemon <size>", stdout)
    return re.sub(r"\b[0-9a-f]{12}\b", "<id>", text).splitlines()


def wait_logs(docker: DockerCLI, name: str, text: str) -> str:
    for _ in range(100):
        logs = docker("logs", name).stdout
        if text in logs:
            return logs
        subprocess.run(["sleep", "0.1"], check=True)
    raise AssertionError(f"{name} never logged {text!r}: {logs!r}")


@pytest.fixture
def project(engine: EngineProcess, docker: DockerCLI, tmp_path: Path) -> Iterator[Path]:
    remove_images(docker, "demo-app")
    yield write_project(tmp_path)
    doca(engine, tmp_path, "down", "-t", "1", check=False)
    remove_images(docker, "demo-app")


BUILD_FORMS = """
services:
  short:
    build: ./app
  long:
    image: example/long:1
    build:
      context: app
      dockerfile: ../other.Dockerfile
      args: ["A=1", "FROM_ENV", "C=", "UNSET"]
      labels: [x=y, z]
      cache_from: [busybox]
      no_cache: "true"
      pull: true
      extra_hosts: {db: "10.0.0.5"}
      network: host
      target: final
      shm_size: 64m
      tags: ["example/long:extra"]
  defaults:
    build:
      dockerfile: app/Dockerfile
      args: {N: 1, T: true}
"""


def test_config_prints_build_as_compose_does(engine: EngineProcess, tmp_path: Path) -> None:
    write_project(tmp_path, BUILD_FORMS)
    for fmt in ("yaml", "json"):
        expected = real(engine, tmp_path, "config", "--format", fmt).stdout
        ours = doca(engine, tmp_path, "config", "--format", fmt).stdout
        assert (ours if fmt == "yaml" else json.loads(ours)) == (
            expected if fmt == "yaml" else json.loads(expected)
        )
    (tmp_path / "compose.override.yaml").write_text(
        "services:\n  long:\n    build:\n      context: .\n      args: {A: '2', B: b}\n"
    )
    assert doca(engine, tmp_path, "config").stdout == real(engine, tmp_path, "config").stdout


def test_compose_build_tags_and_labels_as_compose(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    ours = doca(engine, project, "build")
    assert ours.stderr.splitlines() == [" Service app  Building", " Service app  Built",
                                        " app  Built"]  # fmt: skip
    assert ours.stdout.startswith("Sending build context to Docker daemon ")
    assert ours.stdout.endswith("Successfully tagged demo-app:latest\n")
    built = image(docker, "demo-app")
    assert built is not None
    # Compose's classic builder adds its own label only: no project or service label.
    assert built["Config"]["Labels"] == {BUILDER_LABEL: "classic", "org.example.made-by": "test"}
    # Args without a value come from the project's environment (.env here).
    shown = docker("run", "--rm", "demo-app", "cat", "/greeting").stdout
    assert shown == "hello from-dotenv\n"

    remove_images(docker, "demo-app")
    theirs = real(engine, project, "build")
    assert build_lines(theirs.stdout) == build_lines(ours.stdout)
    by_compose = image(docker, "demo-app")
    assert by_compose is not None
    assert by_compose["Config"]["Labels"] == built["Config"]["Labels"]

    # Built again, from the cache: the same image.
    again = doca(engine, project, "build", "app")
    assert "Using cache" in again.stdout
    assert (image(docker, "demo-app") or {}).get("Id") == by_compose["Id"]
    # A service without build: is not built; one that does not exist is an error.
    assert doca(engine, project, "build", "plain").stderr == ""
    missing = doca(engine, project, "build", "nope", check=False)
    assert missing.returncode == 1 and "no such service: nope" in missing.stderr


def test_up_builds_a_missing_image_and_rebuilds_with_build(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    up = doca(engine, project, "up", "-d")
    assert " Service app  Building" in up.stderr
    assert "Successfully tagged demo-app:latest" in up.stdout
    app = container(docker, "demo-app-1")
    built = image(docker, "demo-app")
    assert built is not None
    assert app["Config"]["Image"] == "demo-app"
    assert app["Config"]["Labels"][IMAGE_LABEL] == built["Id"]
    wait_logs(docker, "demo-app-1", "hello from-dotenv")

    # Present now: neither tool builds it again nor recreates the container.
    again = doca(engine, project, "up", "-d")
    assert "Building" not in again.stderr and "Container demo-app-1  Running" in again.stderr
    by_compose = real(engine, project, "up", "-d")
    assert "Building" not in by_compose.stderr and "Recreate" not in by_compose.stderr

    # --build rebuilds; a changed image recreates the container, as Compose does.
    (project / "app" / "Dockerfile").write_text(DOCKERFILE + "RUN echo rebuilt >> /greeting\n")
    rebuilt = doca(engine, project, "up", "-d", "--build")
    assert " Service app  Building" in rebuilt.stderr
    assert "Container demo-app-1  Recreate" in rebuilt.stderr
    assert "Container demo-plain-1  Running" in rebuilt.stderr
    assert wait_logs(docker, "demo-app-1", "rebuilt") == "hello from-dotenv\nrebuilt\n"
    new_image = image(docker, "demo-app")
    assert new_image is not None and new_image["Id"] != built["Id"]
    assert container(docker, "demo-app-1")["Config"]["Labels"][IMAGE_LABEL] == new_image["Id"]
    after = real(engine, project, "up", "-d")
    assert "Recreate" not in after.stderr, after.stderr


def test_up_no_build_fails_on_a_missing_image_as_compose_does(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    ours = doca(engine, project, "up", "-d", "--no-build", check=False)
    theirs = real(engine, project, "up", "-d", "--no-build", check=False)
    assert ours.returncode == theirs.returncode == 1
    message = "Error response from daemon: No such image: demo-app:latest"
    assert ours.stderr.splitlines()[-1] == theirs.stderr.splitlines()[-1] == message
    assert image(docker, "demo-app") is None
    both = doca(engine, project, "up", "--build", "--no-build", check=False)
    assert both.returncode != 0 and "--build and --no-build are incompatible" in both.stderr


def test_doca_keeps_what_the_real_compose_built(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    real(engine, project, "up", "-d")
    try:
        built = image(docker, "demo-app")
        assert built is not None
        assert built["Config"]["Labels"][BUILDER_LABEL] == "classic"
        ours = doca(engine, project, "up", "-d")
        assert "Building" not in ours.stderr and "Recreate" not in ours.stderr, ours.stderr
        assert "Container demo-app-1  Running" in ours.stderr
        assert (image(docker, "demo-app") or {}).get("Id") == built["Id"]
    finally:
        real(engine, project, "down", "-t", "1", check=False)


def test_a_failed_build_exits_with_the_step_s_code(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    write_project(project, dockerfile="FROM busybox\nRUN echo boom; exit 7\n")
    ours = doca(engine, project, "build", check=False)
    theirs = real(engine, project, "build", check=False)
    assert ours.returncode == theirs.returncode == 7
    message = "The command '/bin/sh -c echo boom; exit 7' returned a non-zero code: 7"
    assert ours.stderr.splitlines()[-1] == theirs.stderr.splitlines()[-1] == message
    assert ours.stdout.endswith("boom\n")
    up = doca(engine, project, "up", "-d", check=False)
    assert up.returncode == 7
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=demo").stdout == ""


def test_an_image_that_cannot_be_pulled_is_built(
    engine: EngineProcess, docker: DockerCLI, project: Path
) -> None:
    name = f"127.0.0.1:{free_port()}/demo/app:1"  # nothing listens there: the pull fails
    compose = PROJECT.replace("    build:\n      context: ./app", f"    image: {name}\n"
                              "    build:\n      context: ./app")  # fmt: skip
    write_project(project, compose)
    try:
        for tool in (doca, real):
            remove_images(docker, name)
            up = tool(engine, project, "up", "-d", "app")
            assert "Warning" in up.stderr and " Service app  Building" in up.stderr, up.stderr
            assert container(docker, "demo-app-1")["Config"]["Image"] == name
            assert image(docker, "demo-app") is None
            tool(engine, project, "down", "-t", "1")
    finally:
        remove_images(docker, name)
