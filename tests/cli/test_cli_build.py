"""`doca build` and `doca builder prune`: the flags decoded as the docker CLI decodes them, the
request made of them compared with the real docker CLI's, and builds against a real
doca-engine printing what `DOCKER_BUILDKIT=0 docker build` prints."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from doca.cli.build_flags import build_args, extra_host, labels
from doca.cli.build_output import upload_line
from doca.cli.units import ram_in_bytes
from doca.client.build_options import BuildOptions
from tests.support.engine import DOCKER, DockerCLI, EngineProcess

DOCA = Path(sys.executable).with_name("doca")
HEX_ID = re.compile(rb"\b[0-9a-f]{12}\b")
IMAGE_ID = re.compile(rb"^sha256:[0-9a-f]{64}$")
DEPRECATED = b"DEPRECATED: The legacy builder"


# -- pure translators -------------------------------------------------------------------------


def test_build_args_take_bare_names_from_the_environment() -> None:
    found = build_args(("A=1", "EMPTY=", "HOME", "UNSET", "A=2"), {"HOME": "/root"})
    assert found == {"A": "2", "EMPTY": "", "HOME": "/root", "UNSET": None}


def test_labels_and_hosts_are_checked_as_the_docker_cli_checks_them() -> None:
    assert labels(("a=b", "  c", "d=e=f")) == {"a": "b", "c": "", "d": "e=f"}
    assert extra_host("h1:1.2.3.4") == "h1:1.2.3.4"
    assert extra_host("h2=::1") == "h2:::1"
    assert extra_host("h3=[fe80::1]") == "h3:fe80::1"
    assert extra_host("gw:host-gateway") == "gw:host-gateway"
    for bad in ("nohost", ":1.2.3.4", "h:notanip"):
        with pytest.raises(Exception, match="add-host"):
            extra_host(bad)


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("1024", 1024), ("64m", 64 << 20), ("1.5GiB", 3 << 29), ("10 kb", 10240),
     ("2G", 2 << 30), ("7b", 7)],
)  # fmt: skip
def test_sizes_are_read_as_go_units_reads_them(text: str, size: int) -> None:
    assert ram_in_bytes(text) == size


@pytest.mark.parametrize("text", ["1x", "m", "-1", "1kbb", "1mi"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        ram_in_bytes(text)


def test_the_query_leaves_out_the_engine_s_defaults() -> None:
    assert BuildOptions(dockerfile="Dockerfile").query() == {
        "dockerfile": "Dockerfile", "version": "1"
    }  # fmt: skip
    full = BuildOptions(
        tags=["a:1", "b"], build_args={"B": "2", "A": None}, labels={"z": "", "y": "1"},
        remove=False, quiet=True, network_mode="host", platform="Linux/AMD64",
        extra_hosts=["h:1.2.3.4"], memory=10, cache_from=["c"],
    ).query()  # fmt: skip
    assert full == {
        "t": ["a:1", "b"], "extrahosts": ["h:1.2.3.4"], "q": "1", "rm": "0",
        "networkmode": "host", "memory": "10", "buildargs": '{"A":null,"B":"2"}',
        "labels": '{"y":"1","z":""}', "cachefrom": '["c"]', "platform": "linux/amd64",
        "version": "1",
    }  # fmt: skip


def test_the_upload_line_is_jsonmessage_s_last_progress_update() -> None:
    assert upload_line(3072) == "Sending build context to Docker daemon  3.072kB\r\r\n"
    assert upload_line(182) == "Sending build context to Docker daemon     182B\r\r\n"


# -- the request, next to the docker CLI's ------------------------------------------------------


@dataclass
class FakeEngine:
    """A Docker-API stand-in on a unix socket: it records every ``POST /build`` and answers
    a successful build, so that two clients' requests can be compared."""

    socket: Path
    builds: list[dict[str, Any]] = field(default_factory=list)

    async def _ping(self, _request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={"API-Version": "1.47", "OSType": "linux"})

    async def _version(self, _request: web.Request) -> web.Response:
        return web.json_response({"ApiVersion": "1.47", "MinAPIVersion": "1.24", "Os": "linux"})

    async def _build(self, request: web.Request) -> web.Response:
        body = await request.read()
        query = sorted(request.query.items())
        self.builds.append({"query": query, "headers": dict(request.headers), "body": body})
        answer = {"aux": {"ID": "sha256:" + "a" * 64}}, {"stream": "Successfully built a\n"}
        return web.Response(body=b"".join(json.dumps(m).encode() + b"\n" for m in answer),
                            content_type="application/json")  # fmt: skip

    def serve(self, ready: threading.Event, stop: asyncio.Event, loop_box: list[Any]) -> None:
        async def main() -> None:
            app = web.Application(client_max_size=1 << 30)
            app.router.add_route("*", "/_ping", self._ping)
            app.router.add_route("*", "/{version}/_ping", self._ping)
            app.router.add_get("/{version}/version", self._version)
            app.router.add_post("/{version}/build", self._build)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.UnixSite(runner, str(self.socket)).start()
            loop_box.append((asyncio.get_running_loop(), stop))
            ready.set()
            await stop.wait()
            await runner.cleanup()

        asyncio.run(main())


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[FakeEngine]:
    fake = FakeEngine(tmp_path / "fake.sock")
    ready, box = threading.Event(), []
    thread = threading.Thread(target=fake.serve, args=(ready, asyncio.Event(), box), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake
    loop, stop = box[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def _config_dir(root: Path) -> Path:
    """A docker config of its own: a plaintext login, and an entry without one (which also
    keeps the docker CLI from the desktop's default credential helper)."""
    root.mkdir(parents=True, exist_ok=True)
    auths = {"127.0.0.1:5999": {"auth": base64.b64encode(b"user:secret").decode()},
             "placeholder.invalid": {}}  # fmt: skip
    (root / "config.json").write_text(json.dumps({"auths": auths}))
    return root


def _client_env(host: str, config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=host, DOCKER_CONFIG=str(config), DOCKER_BUILDKIT="0", NO_COLOR="1")
    env.update(extra)
    return env


def _members(body: bytes) -> list[tuple[Any, ...]]:
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return [(m.name, m.type, m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime, m.size,
                 m.linkname) for m in archive.getmembers()]  # fmt: skip


def test_doca_asks_the_engine_what_the_docker_cli_asks(
    fake_engine: FakeEngine, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    (context / "sub" / "deep").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\n")
    (context / ".dockerignore").write_text("skip\n!skip/keep.txt\n**/*.log\nDockerfile\n")
    (context / "sub" / "deep" / "a.log").write_text("log")
    (context / "sub" / "b.txt").write_text("b")
    (context / "skip").mkdir()
    (context / "skip" / "keep.txt").write_text("kept")
    (context / "skip" / "gone.txt").write_text("gone")
    os.symlink("sub/b.txt", context / "link")
    os.link(context / "sub" / "b.txt", context / "hard")
    flags = ["-t", "x:1", "-t", "y", "--build-arg", "A=1", "--build-arg", "FROM_ENV",
             "--build-arg", "UNSET", "--label", "l1=v", "--label", "l2", "--target", "t",
             "--no-cache", "--pull", "--force-rm", "--rm=false", "--network", "host",
             "--platform", "linux/amd64", "--add-host", "h1:1.2.3.4", "--add-host", "h2=::1",
             "--shm-size", "64m", "-m", "100m", "--cache-from", "a,b"]  # fmt: skip
    env = _client_env(f"unix://{fake_engine.socket}", _config_dir(tmp_path / "config"),
                      FROM_ENV="from-env")  # fmt: skip
    env.pop("UNSET", None)
    for client in ([DOCKER, "build"], [str(DOCA), "build"]):
        result = subprocess.run([*client, *flags, str(context)], capture_output=True, env=env,
                                timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b"Sending build context to Docker daemon  ")
    by_docker, by_doca = fake_engine.builds
    assert by_doca["query"] == by_docker["query"]
    assert ("rm", "0") in by_doca["query"]
    assert ("buildargs", '{"A":"1","FROM_ENV":"from-env","UNSET":null}') in by_doca["query"]
    assert _members(by_doca["body"]) == _members(by_docker["body"])
    headers = [json.loads(base64.urlsafe_b64decode(build["headers"]["X-Registry-Config"]))
               for build in (by_docker, by_doca)]  # fmt: skip
    assert headers[0] == headers[1]
    assert headers[1]["127.0.0.1:5999"]["password"] == "secret"
    assert by_doca["headers"]["Content-Type"] == "application/x-tar"


# -- against the engine -------------------------------------------------------------------------


@pytest.fixture
def host(engine: EngineProcess, loaded_busybox: object) -> str:
    return engine.host


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config_dir(tmp_path / "config")


def run_doca(
    host: str, config: Path, *args: str, stdin: bytes = b"", cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(DOCA), *args], input=stdin, capture_output=True, cwd=cwd,
                          env=_client_env(host, config, **env), timeout=300)  # fmt: skip


def run_docker(
    host: str, config: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([DOCKER, *args], input=b"", capture_output=True, cwd=cwd,
                          env=_client_env(host, config), timeout=300)  # fmt: skip


def make_context(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def shape(output: bytes) -> list[bytes]:
    """Output lines with IDs blanked: what must match between the two CLIs."""
    text = re.sub(rb"sha256:[0-9a-f]{64}", b"sha256:<digest>", output)
    return HEX_ID.sub(b"<id>", text).split(b"\n")


def inspect(docker: DockerCLI, name: str) -> dict[str, Any]:
    return dict(json.loads(docker("image", "inspect", name).stdout)[0])


def files_in(docker: DockerCLI, image: str, directory: str) -> list[str]:
    listing = docker("run", "--rm", image, "find", directory).stdout.split()
    return sorted(path.removeprefix(directory + "/") for path in listing if path != directory)


ARGS_DOCKERFILE = """\
FROM busybox
ARG GREETING=default
ARG FROM_ENV=default
ARG UNSET=default
RUN echo "$GREETING $FROM_ENV $UNSET" > /args
"""


@pytest.mark.e2e
def test_build_prints_what_the_docker_cli_prints(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", ARGS_DOCKERFILE, {"data.txt": "some data\n"})
    ours = run_doca(host, config, "build", "--no-cache", "-t", "printed", str(context))
    theirs = run_docker(host, config, "build", "--no-cache", "-t", "printed", str(context))
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout.startswith(b"Sending build context to Docker daemon  3.072kB\r\r\n")
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert ours.stdout.endswith(b"Successfully tagged printed:latest\n")
    assert ours.stderr == b""
    assert DEPRECATED in theirs.stderr  # the docker CLI's only other words


@pytest.mark.e2e
def test_tags_labels_and_build_args(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", ARGS_DOCKERFILE)
    result = run_doca(
        host, config, "build", "-t", "tagged:1", "--tag", "127.0.0.1:5999/tagged", "--label",
        "org.example.a=1", "--label", "bare", "--build-arg", "GREETING=hello",
        "--build-arg", "FROM_ENV", "--build-arg", "UNSET", str(context), FROM_ENV="env-value",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        b"Successfully tagged tagged:1\nSuccessfully tagged 127.0.0.1:5999/tagged:latest\n"
    )
    image = inspect(docker, "tagged:1")
    assert set(image["RepoTags"]) == {"tagged:1", "127.0.0.1:5999/tagged:latest"}
    assert image["Config"]["Labels"] == {"org.example.a": "1", "bare": ""}
    # A bare --build-arg takes the environment's value; one unset there keeps the default.
    shown = docker("run", "--rm", "tagged:1", "cat", "/args").stdout
    assert shown == "hello env-value default\n"


@pytest.mark.e2e
def test_target_builds_up_to_the_named_stage(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    dockerfile = ("FROM busybox AS first\nRUN echo first > /stage\n"
                  "FROM first AS second\nRUN echo second > /stage\n")  # fmt: skip
    context = make_context(tmp_path / "ctx", dockerfile)
    assert run_doca(host, config, "build", "--target", "first", "-t", "staged", str(context))\
        .returncode == 0  # fmt: skip
    assert docker("run", "--rm", "staged", "cat", "/stage").stdout == "first\n"


@pytest.mark.e2e
def test_dockerignore_keeps_files_out_of_the_image(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox\nCOPY . /ctx\n", {
        ".dockerignore": "*.secret\nlogs\n!logs/keep.log\n**/*.tmp\nDockerfile\n.dockerignore\n",
        "app.py": "x", "key.secret": "k", "logs/a.log": "a", "logs/keep.log": "k",
        "src/cache.tmp": "t", "src/main.py": "m",
    })  # fmt: skip
    result = run_doca(host, config, "build", "-t", "ignoring", str(context))
    assert result.returncode == 0, result.stderr
    assert files_in(docker, "ignoring", "/ctx") == [
        "app.py", "logs", "logs/keep.log", "src", "src/main.py"
    ]  # fmt: skip


@pytest.mark.e2e
def test_a_dockerfile_outside_the_context(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    make_context(tmp_path / "ctx", "FROM busybox\nRUN echo the-wrong-one\n", {"f.txt": "f"})
    (tmp_path / "build" / "Dockerfile.app").parent.mkdir()
    (tmp_path / "build" / "Dockerfile.app").write_text("FROM busybox\nCOPY . /ctx\n")
    # -f is relative to the working directory, as with the docker CLI.
    result = run_doca(host, config, "build", "-f", "build/Dockerfile.app", "-t", "outside",
                      "ctx", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"Step 2/2 : COPY . /ctx" in result.stdout
    # Neither the Dockerfile's generated name nor the .dockerignore hiding it reach COPY.
    assert files_in(docker, "outside", "/ctx") == ["Dockerfile", "f.txt"]


@pytest.mark.e2e
def test_stdin_dockerfile_context_and_tar(
    host: str, config: Path, docker: DockerCLI, tmp_path: Path
) -> None:
    alone = run_doca(host, config, "build", "-t", "from-stdin", "-",
                     stdin=b"FROM busybox\nRUN echo piped > /piped\n")  # fmt: skip
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.startswith(b"Sending build context to Docker daemon  2.048kB\r\r\n")
    assert docker("run", "--rm", "from-stdin", "cat", "/piped").stdout == "piped\n"

    context = make_context(tmp_path / "ctx", "FROM scratch\n", {"f.txt": "from the context\n"})
    with_context = run_doca(host, config, "build", "-t", "stdin-file", "-f", "-", str(context),
                            stdin=b"FROM busybox\nCOPY f.txt /f.txt\n")  # fmt: skip
    assert with_context.returncode == 0, with_context.stderr
    assert docker("run", "--rm", "stdin-file", "cat", "/f.txt").stdout == "from the context\n"

    (context / "Build.file").write_text("FROM busybox\nCOPY f.txt /tarred.txt\n")
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        archive.add(context, ".")
    piped = run_doca(host, config, "build", "-f", "Build.file", "-t", "stdin-tar", "-",
                     stdin=tar.getvalue())  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert docker("run", "--rm", "stdin-tar", "cat", "/tarred.txt").stdout == "from the context\n"

    ambiguous = run_doca(host, config, "build", "-f", "Dockerfile", "-", stdin=b"FROM busybox\n")
    assert ambiguous.returncode == 1
    assert ambiguous.stderr == (b"unable to prepare context: ambiguous Dockerfile source: both "
                                b"stdin and flag correspond to Dockerfiles\n")  # fmt: skip


FAILING = "FROM busybox\nRUN echo out; echo err >&2; exit 3\n"


@pytest.mark.e2e
def test_a_failing_run_exits_with_its_code(host: str, config: Path, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", FAILING)
    ours = run_doca(host, config, "build", str(context))
    theirs = run_docker(host, config, "build", str(context))
    assert ours.returncode == theirs.returncode == 3
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert ours.stdout.endswith(b"out\nerr\n")
    message = (
        b"The command '/bin/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3\n"
    )
    assert ours.stderr == message
    assert theirs.stderr.endswith(message)


@pytest.mark.e2e
def test_quiet_and_iidfile(host: str, config: Path, docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox\nRUN echo quiet > /q\n")
    iidfile = tmp_path / "iid"
    iidfile.write_text("stale")
    quiet = run_doca(host, config, "build", "-q", "--iidfile", str(iidfile), str(context))
    assert quiet.returncode == 0, quiet.stderr
    assert IMAGE_ID.match(quiet.stdout.rstrip(b"\n")) and quiet.stdout.endswith(b"\n")
    assert quiet.stderr == b""
    # With -q the file holds what was printed, newline included, as with the docker CLI.
    assert iidfile.read_bytes() == quiet.stdout
    image_id = quiet.stdout.strip().decode()
    assert inspect(docker, image_id)["Id"] == image_id

    loud = run_doca(host, config, "build", "--iidfile", str(iidfile), str(context))
    assert loud.returncode == 0, loud.stderr
    assert iidfile.read_text() == image_id
    theirs = tmp_path / "iid-docker"
    assert run_docker(host, config, "build", "--iidfile", str(theirs), str(context)).returncode == 0
    assert theirs.read_text() == iidfile.read_text()

    failing = make_context(tmp_path / "failing", FAILING)
    failed = run_doca(host, config, "build", "-q", "--iidfile", str(iidfile), str(failing))
    by_docker = run_docker(host, config, "build", "-q", str(failing))
    assert failed.returncode == by_docker.returncode == 1
    assert failed.stdout == by_docker.stdout == b""
    assert failed.stderr == by_docker.stderr[by_docker.stderr.index(b"Sending") :]
    assert failed.stderr.endswith(
        b"Error response from daemon: The command '/bin/sh -c echo out; echo err >&2; exit 3' "
        b"returned a non-zero code: 3\n"
    )
    assert not iidfile.exists()


@pytest.mark.e2e
def test_context_errors_are_the_docker_cli_s(host: str, config: Path, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox\n")
    for args in (["nope"], ["-f", "missing.Dockerfile", str(context)],
                 [str(context / "Dockerfile")], ["-f", "-", "-"]):  # fmt: skip
        ours = run_doca(host, config, "build", *args, cwd=tmp_path)
        theirs = run_docker(host, config, "build", *args, cwd=tmp_path)
        assert ours.returncode == theirs.returncode == 1
        assert theirs.stderr.endswith(ours.stderr), (ours.stderr, theirs.stderr)


@pytest.mark.e2e
def test_builder_prune(host: str, config: Path, docker: DockerCLI, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox\nRUN echo cached > /c\n")
    assert run_doca(host, config, "build", str(context)).returncode == 0

    declined = run_doca(host, config, "builder", "prune", stdin=b"n\n")
    assert declined.returncode == 0
    assert declined.stdout == (b"WARNING! This will remove all dangling build cache. Are you "
                               b"sure you want to continue? [y/N] ")  # fmt: skip

    pruned = run_doca(host, config, "builder", "prune", "-a", "-f")
    assert pruned.returncode == 0, pruned.stderr
    lines = pruned.stdout.decode().split("\n")
    assert lines[0] == "Deleted build cache objects:"
    deleted = lines[1 : lines.index("")]
    assert deleted and all(re.fullmatch(r"[0-9a-z]+", entry) for entry in deleted)
    assert re.fullmatch(r"Total reclaimed space: [0-9.]+[kMG]?B", lines[-2]), lines
    assert lines[-1] == ""

    again = run_doca(host, config, "builder", "prune", "--all", "--force")
    assert again.stdout == b"Total reclaimed space: 0B\n"
    assert again.stdout == run_docker(host, config, "builder", "prune", "-af").stdout
