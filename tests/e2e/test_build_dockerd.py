"""The same Dockerfile built by Debian's dockerd (classic builder) and by Doca gives the same
image config and the same files."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DOCKER, DockerCLI, short_root
from tests.support.testimage import TestImage

pytestmark = [
    pytest.mark.skipif(
        not dockerd_available(), reason="Debian's dockerd (package docker.io) is not installed"
    ),
    pytest.mark.usefixtures("loaded_busybox"),
]

# What dockerd 20.10's classic builder understands: no heredocs, no --chmod.
DOCKERFILE = """\
ARG BASE=busybox
FROM ${BASE} AS build
ARG GREETING=hello
ENV OUT=/out \\
    NAME="the build"
WORKDIR /src
COPY --chown=app:app app.txt ./
COPY data/ /src/data/
ADD archive.tar /src/unpacked/
RUN mkdir -p $OUT && echo "$GREETING from $NAME" > $OUT/greeting \\
 && cat /src/app.txt /src/unpacked/inner.txt >> $OUT/greeting \\
 && stat -c '%U:%G %a %n' /src/app.txt /src/data/a.txt >> $OUT/greeting

FROM busybox
ARG VERSION=1.0
MAINTAINER someone@example.com
LABEL org.example.stage="final" version=${VERSION} "quoted key"="a value"
ENV PATH=/opt/bin:$PATH LANG=C.UTF-8
ENV LEGACY a value with spaces
COPY --from=build /out/ /srv/
COPY --from=build --chown=1000:1000 /src/data /srv/data
EXPOSE 8080 53/udp 9000-9001
VOLUME ["/data", "/cache"]
VOLUME /logs
USER app:app
WORKDIR /home/app
WORKDIR sub
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=2 CMD test -f /srv/greeting
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/greeting"]
ONBUILD RUN echo triggered
"""

COMPARED = (
    "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes",
    "Healthcheck", "StopSignal", "OnBuild", "Shell",
)  # fmt: skip


@pytest.fixture(scope="module")
def dockerd_cli(test_image: TestImage) -> Iterator[DockerCLI]:
    root = short_root()
    daemon = Dockerd(root)
    cli = DockerCLI(daemon.host, root)
    daemon.start(lambda: cli("version", check=False).returncode == 0)
    try:
        cli("load", "-i", str(test_image.save_tar))
        yield cli
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ctx")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "app.txt").write_text("app file\n")
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("a\n")
    inner = tmp_path_factory.mktemp("inner")
    (inner / "inner.txt").write_text("inside the tar\n")
    subprocess.run(["tar", "-cf", str(root / "archive.tar"), "-C", str(inner), "inner.txt"],
                   check=True)  # fmt: skip
    return root


def build(cli: DockerCLI, context: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli.env(), "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        [DOCKER, "build", "--network", "none", *args, str(context)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def built_config(cli: DockerCLI, context: Path) -> dict[str, Any]:
    result = build(cli, context, "-t", "compared:1", "--build-arg", "VERSION=2.5")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(cli("image", "inspect", "compared:1").stdout)[0]


def test_config_matches_dockerd(dockerd_cli: DockerCLI, docker: DockerCLI, context: Path) -> None:
    theirs = built_config(dockerd_cli, context)
    ours = built_config(docker, context)
    for key in COMPARED:
        assert ours["Config"].get(key) == theirs["Config"].get(key), key
    assert ours["Author"] == theirs["Author"] == "someone@example.com"
    assert len(ours["RootFS"]["Layers"]) == len(theirs["RootFS"]["Layers"])


def test_files_match_dockerd(dockerd_cli: DockerCLI, docker: DockerCLI, context: Path) -> None:
    script = "cat /srv/greeting; stat -c '%u:%g %a %n' /srv/data /srv/data/a.txt; pwd"
    outputs = []
    for cli in (dockerd_cli, docker):
        built_config(cli, context)
        run = cli("run", "--rm", "--network", "none", "--user", "root", "compared:1", script)
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    assert "hello from the build\napp file\ninside the tar\napp:app" in outputs[1]


def test_failing_run_exit_code_matches_dockerd(
    dockerd_cli: DockerCLI, docker: DockerCLI, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    theirs = build(dockerd_cli, tmp_path)
    ours = build(docker, tmp_path)
    assert ours.returncode == theirs.returncode == 7
    message = "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
    assert message in theirs.stderr and message in ours.stderr
