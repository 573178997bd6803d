"""``docker build`` (the classic builder, DOCKER_BUILDKIT=0) against a real doca-engine."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import DOCKER, DockerCLI
from tests.support.registry import docker_registry, registry_available

pytestmark = pytest.mark.usefixtures("loaded_busybox")

# Every instruction the builder knows, across two stages.
MULTI_STAGE = """\
# a comment before everything
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
 && cat /src/app.txt >> $OUT/greeting
RUN <<EOF
echo heredoc > /out/heredoc
EOF

FROM busybox
LABEL org.example.stage="final" other=value
COPY --from=build --chmod=640 /out/ /srv/
COPY --from=build /src/unpacked/inner.txt /srv/inner.txt
EXPOSE 8080 53/udp
VOLUME ["/data"]
USER app
WORKDIR /home/app
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD test -f /srv/greeting
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/greeting"]
ONBUILD RUN echo triggered > /tmp/onbuild
"""


def build(
    docker: DockerCLI, context: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**docker.env(), "DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        [DOCKER, "build", *args, str(context)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"docker build failed:\n{result.stdout}\n{result.stderr}")
    return result


def inspect(docker: DockerCLI, name: str) -> dict[str, Any]:
    return json.loads(docker("image", "inspect", name).stdout)[0]


def make_context(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture(scope="module")
def multi_stage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multi")
    make_context(root, MULTI_STAGE, {"app.txt": "app file\n", "data/a.txt": "a\n"})
    inner = tmp_path_factory.mktemp("inner")
    (inner / "inner.txt").write_text("inside the tar\n")
    subprocess.run(
        ["tar", "-cf", str(root / "archive.tar"), "-C", str(inner), "inner.txt"], check=True
    )
    return root


@pytest.fixture(scope="module")
def built(docker: DockerCLI, multi_stage: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = build(docker, multi_stage, "-t", "multi:1", "-t", "multi:also")
    return result, time.monotonic() - started


def test_multi_stage_build_streams_steps_and_tags(built: tuple[Any, float]) -> None:
    result, _ = built
    out = result.stdout
    assert "Step 1/" in out and ": ARG BASE=busybox" in out
    assert "Step 3/" in out and "FROM ${BASE} AS build" in out
    assert " ---> Running in " in out
    assert "Successfully built " in out
    assert "Successfully tagged multi:1" in out and "Successfully tagged multi:also" in out


def test_the_image_config_has_every_instruction(docker: DockerCLI, built: Any) -> None:
    config = inspect(docker, "multi:1")["Config"]
    assert config["Cmd"] == ["cat /srv/greeting"]
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["WorkingDir"] == "/home/app"
    assert config["User"] == "app"
    assert config["Labels"] == {"org.example.stage": "final", "other": "value"}
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGINT"
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -f /srv/greeting"],
        "Interval": 30_000_000_000,
        "Timeout": 5_000_000_000,
        "Retries": 2,
    }
    assert config["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    assert config["Shell"] == ["/bin/sh", "-ec"]
    # ENV of the first stage stays there
    assert not any(e.startswith("OUT=") for e in config["Env"])


def test_the_built_image_runs_with_files_from_the_first_stage(
    docker: DockerCLI, built: Any
) -> None:
    out = docker("run", "--rm", "--user", "root", "multi:1").stdout
    assert out == "hello from the build\napp file\n"
    listing = docker(
        "run", "--rm", "--user", "root", "--entrypoint", "sh", "multi:1", "-c",
        "stat -c '%a %U %n' /srv/greeting /srv/heredoc; cat /srv/inner.txt /srv/heredoc",
    ).stdout  # fmt: skip
    assert "640 root /srv/greeting" in listing
    assert "inside the tar\nheredoc\n" in listing


def test_copy_chown_and_workdir_in_the_first_stage(
    docker: DockerCLI, built: Any, tmp_path: Path
) -> None:
    result = build(docker, make_context(tmp_path, "FROM busybox\nCOPY --chown=app:app f /w/f\n"
                                       "RUN stat -c '%U:%G %a' /w/f\n", {"f": "x"}))  # fmt: skip
    assert "app:app 644" in result.stdout


def test_a_rebuild_is_all_cache_hits(docker: DockerCLI, multi_stage: Path, built: Any) -> None:
    first_id = inspect(docker, "multi:1")["Id"]
    _, first_time = built
    started = time.monotonic()
    result = build(docker, multi_stage, "-t", "multi:1")
    elapsed = time.monotonic() - started
    steps = result.stdout.count("Step ")
    assert result.stdout.count(" ---> Using cache") == steps - 3  # ARG and the two FROMs
    assert " ---> Running in" not in result.stdout
    assert inspect(docker, "multi:1")["Id"] == first_id
    assert elapsed < first_time  # the benchmarks measure the ratio; here only the direction


def test_a_changed_file_rebuilds_from_its_copy(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(
        tmp_path, "FROM busybox\nRUN echo one\nCOPY f /f\nRUN cat /f\n", {"f": "1"}
    )
    build(docker, context, "-t", "changing")
    (context / "f").write_text("2")
    out = build(docker, context, "-t", "changing").stdout
    assert out.count(" ---> Using cache") == 1  # only RUN echo one
    assert docker("run", "--rm", "changing", "cat", "/f").stdout == "2"


def test_no_cache_runs_everything(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path, "FROM busybox\nRUN echo again\n")
    build(docker, context)
    out = build(docker, context, "--no-cache").stdout
    assert "Using cache" not in out and "again" in out


def test_build_args_and_target(docker: DockerCLI, tmp_path: Path) -> None:
    dockerfile = (
        'ARG V=default\nFROM busybox AS first\nARG V\nRUN echo "v=$V" > /v\n'
        "FROM first AS second\nRUN echo second >> /v\n"
    )
    context = make_context(tmp_path, dockerfile)
    build(docker, context, "--build-arg", "V=given", "--target", "first", "-t", "argtest")
    assert docker("run", "--rm", "argtest", "cat", "/v").stdout == "v=given\n"
    build(docker, context, "-t", "argtest2")
    assert docker("run", "--rm", "argtest2", "cat", "/v").stdout == "v=default\nsecond\n"
    unused = build(docker, context, "--build-arg", "NOPE=1")
    assert (
        "[Warning] One or more build-args [NOPE] were not consumed" in unused.stdout + unused.stderr
    )
    missing = build(docker, context, "--target", "nowhere", check=False)
    assert missing.returncode != 0
    assert "failed to reach build target nowhere in Dockerfile" in missing.stderr


def test_dockerignore_keeps_files_out(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(
        tmp_path,
        "FROM busybox\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n",
        {".dockerignore": "secret*\n*.log\n!keep.log\n", "secret.txt": "s", "a.log": "l",
         "keep.log": "k", "ok.txt": "o"},
    )  # fmt: skip
    out = build(docker, context, "-t", "ignoring").stdout
    files = docker("run", "--rm", "ignoring", "find", "/ctx", "-type", "f").stdout.split()
    assert sorted(files) == [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/keep.log",
        "/ctx/ok.txt",
    ]
    assert "secret" not in out


def test_a_failing_run_reports_its_code_and_leaves_no_container(
    docker: DockerCLI, tmp_path: Path
) -> None:
    before = docker("ps", "-aq").stdout.split()
    context = make_context(tmp_path, "FROM busybox\nRUN echo to stdout; exit 3\n")
    result = build(docker, context, check=False)
    assert result.returncode == 3
    assert "to stdout" in result.stdout
    assert (
        "The command '/bin/sh -c echo to stdout; exit 3' returned a non-zero code: 3"
        in result.stderr
    )
    assert docker("ps", "-aq").stdout.split() == before


def test_dockerfile_errors_name_the_line(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path, "FROM busybox\n\nFRM busybox\n")
    result = build(docker, context, check=False)
    assert result.returncode != 0
    assert "Dockerfile:3: unknown instruction: FRM" in result.stderr
    context = make_context(tmp_path / "b", "FROM busybox\nCOPY --chwon=1 a /a\n", {"a": ""})
    result = build(docker, context, check=False)
    assert "Dockerfile:2:" in result.stderr and "chwon" in result.stderr
    context = make_context(tmp_path / "c", "FROM busybox\nCOPY missing.txt /m\n")
    result = build(docker, context, check=False)
    assert result.returncode != 0 and "missing.txt" in result.stderr


def test_onbuild_triggers_run_in_the_child(docker: DockerCLI, built: Any, tmp_path: Path) -> None:
    out = build(docker, make_context(tmp_path, "FROM multi:1\n"), "-t", "child").stdout
    assert "# Executing 1 build trigger" in out
    assert (
        docker("run", "--rm", "--entrypoint", "cat", "child", "/tmp/onbuild").stdout
        == "triggered\n"
    )
    assert not inspect(docker, "child")["Config"].get("OnBuild")


def test_quiet_prints_only_the_id(docker: DockerCLI, tmp_path: Path) -> None:
    result = build(docker, make_context(tmp_path, "FROM busybox\nENV Q=1\n"), "-q")
    assert result.stdout.strip().startswith("sha256:")
    assert len(result.stdout.strip().splitlines()) == 1


def test_rmi_of_a_built_image_takes_its_step_images(docker: DockerCLI, tmp_path: Path) -> None:
    build(docker, make_context(tmp_path, "FROM busybox\nENV A=1\nENV B=2\n"), "-t", "steps")
    out = docker("rmi", "steps").stdout
    assert out.count("Deleted: ") == 2


def test_builder_prune_and_df(docker: DockerCLI, tmp_path: Path) -> None:
    build(docker, make_context(tmp_path, "FROM busybox\nRUN echo cached > /c\n"), "-t", "prunable")
    df = json.loads(docker("system", "df", "--format", "{{json .}}").stdout.splitlines()[-1])
    assert df["Type"] == "Build Cache" and df["TotalCount"] != "0"
    docker("rmi", "prunable")
    report = docker("builder", "prune", "-f").stdout
    assert "Total reclaimed space" in report
    out = build(docker, make_context(tmp_path, "FROM busybox\nRUN echo cached > /c\n")).stdout
    assert "Using cache" not in out


def test_bad_requests(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path, "FROM busybox\n")
    result = build(docker, context, "-t", "Bad:Name", check=False)
    assert result.returncode != 0 and "invalid" in result.stderr.lower()
    result = build(docker, context, "-f", "Nope.dockerfile", check=False)
    assert result.returncode != 0


def test_run_options_reach_the_step_containers(docker: DockerCLI, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        "RUN grep -w builthost /etc/hosts && df -k /dev/shm | tail -1 && ls /sys/class/net\n"
    )
    out = build(
        docker, make_context(tmp_path, dockerfile), "--no-cache", "--network", "none",
        "--add-host", "builthost:10.1.2.3", "--shm-size", "8m", "-m", "64m",
        "--label", "from.cli=yes", "-t", "options",
    ).stdout  # fmt: skip
    assert "10.1.2.3" in out and "builthost" in out
    assert " 8192 " in out  # the size of /dev/shm in KiB
    assert "lo" in out.split() and "eth0" not in out
    assert inspect(docker, "options")["Config"]["Labels"] == {"from.cli": "yes"}


def test_add_of_a_url_is_refused_offline(docker: DockerCLI, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nADD https://example.invalid/file.txt /f\n"
    result = build(docker, make_context(tmp_path, dockerfile), check=False)
    assert result.returncode != 0
    assert "https://example.invalid/file.txt" in result.stderr and "offline" in result.stderr


@pytest.mark.skipif(not registry_available(), reason="Debian's docker-registry is not installed")
def test_from_pulls_a_missing_image(docker: DockerCLI, tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    with docker_registry(tmp_path / "registry") as address:
        remote = f"{address}/base/busybox:1"
        docker("tag", "busybox", remote)
        docker("push", remote)
        docker("rmi", remote)
        context = make_context(tmp_path / "ctx", f"FROM {remote}\nRUN echo pulled > /p\n")
        out = build(docker, context, "-t", "frompull").stdout
        assert "Pulling from base/busybox" in out or "Downloaded newer image" in out
        assert docker("run", "--rm", "frompull", "cat", "/p").stdout == "pulled\n"
        # --pull asks the registry again even though the image is here now
        again = build(docker, context, "--pull", "-t", "frompull").stdout
        assert "Image is up to date" in again or "Pulling from" in again


def test_cache_from_an_image_without_parents(docker: DockerCLI, tmp_path: Path) -> None:
    """As after a pull: the image alone, no step images, no cache entries."""
    dockerfile = 'FROM busybox\nENV A=1\nRUN echo layer > /l\nCMD ["cat", "/l"]\n'
    context = make_context(tmp_path / "ctx", dockerfile)
    build(docker, context, "-t", "cachesrc:1")
    source_id = inspect(docker, "cachesrc:1")["Id"]
    saved = tmp_path / "src.tar"
    docker("save", "-o", str(saved), "cachesrc:1")
    docker("rmi", "cachesrc:1")
    docker("builder", "prune", "-af")
    docker("load", "-i", str(saved))
    assert inspect(docker, "cachesrc:1")["Parent"] == ""
    cold = build(docker, context, "--cache-from", "nothing:here").stdout
    assert "Using cache" not in cold
    docker("builder", "prune", "-af")
    warm = build(docker, context, "--cache-from", "cachesrc:1", "-t", "fromcache").stdout
    assert warm.count(" ---> Using cache") == 3 and " ---> Running in" not in warm
    assert inspect(docker, "fromcache")["Id"] == source_id


def test_proxy_build_args_reach_run_without_arg(docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path, 'FROM busybox\nRUN echo "proxy=$HTTP_PROXY"\n')
    result = build(
        docker, context, "--no-cache", "--build-arg", "HTTP_PROXY=http://127.0.0.1:3", "-t", "px"
    )
    assert "proxy=http://127.0.0.1:3" in result.stdout
    assert "were not consumed" not in result.stdout + result.stderr
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "px").stdout
    assert "127.0.0.1:3" not in history
