"""``docker cp`` both ways, driven by the real docker CLI against a real doca-engine, on a running
and on a stopped container; hostile uploads never write outside the container's root."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, DockerCLI, EngineProcess

pytestmark = pytest.mark.usefixtures("loaded_busybox")


@pytest.fixture(scope="module")
def running(docker: DockerCLI) -> Iterator[str]:
    docker("run", "-d", "--name", "cp-running", "busybox", "sleep", "3600")
    yield "cp-running"
    docker("rm", "-f", "cp-running")


@pytest.fixture(scope="module")
def stopped(docker: DockerCLI) -> Iterator[str]:
    docker("create", "--name", "cp-stopped", "busybox", "true")
    yield "cp-stopped"
    docker("rm", "-f", "cp-stopped")


@pytest.fixture(params=["running", "stopped"])
def container(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


def cp_stdin(docker: DockerCLI, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``docker cp`` reading a tar from stdin (binary, so not through DockerCLI)."""
    return subprocess.run(
        [DOCKER, "cp", *args], input=data, capture_output=True, env=docker.env(), timeout=60
    )


def tar_of(*members: tuple[str, bytes | str], uid: int = 0) -> bytes:
    """Members as (name, data): bytes for a file, "->target" for a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = uid
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_file_and_directory_both_ways(docker: DockerCLI, container: str, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a").write_text("a\n")
    (tmp_path / "tree" / "sub" / "b").write_text("b\n")
    docker("cp", str(tmp_path / "hello.txt"), f"{container}:/tmp/")
    docker("cp", str(tmp_path / "hello.txt"), f"{container}:/tmp/renamed.txt")
    docker("cp", str(tmp_path / "tree"), f"{container}:/tmp/")

    out = tmp_path / "out"
    out.mkdir()
    docker("cp", f"{container}:/tmp/hello.txt", str(out))
    docker("cp", f"{container}:/tmp/renamed.txt", str(out / "again.txt"))
    docker("cp", f"{container}:/tmp/tree", str(out))
    assert (out / "hello.txt").read_text() == "hello\n"
    assert (out / "again.txt").read_text() == "hello\n"
    assert (out / "tree" / "a").read_text() == "a\n"
    assert (out / "tree" / "sub" / "b").read_text() == "b\n"


def test_running_container_sees_copied_files(
    docker: DockerCLI, running: str, tmp_path: Path
) -> None:
    (tmp_path / "seen.txt").write_text("seen\n")
    docker("cp", str(tmp_path / "seen.txt"), f"{running}:/tmp/seen.txt")
    assert docker("exec", running, "cat", "/tmp/seen.txt").stdout == "seen\n"
    docker("exec", running, "sh", "-c", "mkdir -p /made/deep && echo made > /made/deep/f")
    docker("cp", f"{running}:/made", str(tmp_path))
    assert (tmp_path / "made" / "deep" / "f").read_text() == "made\n"


def test_trailing_dot_copies_the_contents(
    docker: DockerCLI, container: str, tmp_path: Path
) -> None:
    docker("cp", f"{container}:/etc/.", str(tmp_path / "contents"))
    assert (tmp_path / "contents" / "passwd").is_file()
    docker("cp", f"{container}:/etc", str(tmp_path))
    assert (tmp_path / "etc" / "passwd").is_file()


def test_missing_source_path(docker: DockerCLI, container: str, tmp_path: Path) -> None:
    result = docker("cp", f"{container}:/nonexistent", str(tmp_path), check=False)
    assert result.returncode == 1
    assert f"Could not find the file /nonexistent in container {container}" in result.stderr


def test_stat_header_and_bad_requests(engine: EngineProcess, running: str) -> None:
    answer = engine.request("HEAD", f"/containers/{running}/archive?path=/etc")
    assert answer.status == 200
    stat = json.loads(base64.b64decode(answer.headers["X-Docker-Container-Path-Stat"]))
    assert stat["name"] == "etc" and stat["mode"] == (1 << 31) | 0o755
    link = engine.request("HEAD", f"/containers/{running}/archive?path=/bin/sh")
    stat = json.loads(base64.b64decode(link.headers["X-Docker-Container-Path-Stat"]))
    assert stat["mode"] & (1 << 27) and stat["linkTarget"] == "/bin/busybox"
    assert engine.request("GET", f"/containers/{running}/archive").status == 400
    assert engine.request("HEAD", f"/containers/{running}/archive?path=/nope").status == 404
    assert engine.request("GET", "/containers/nosuch/archive?path=/").status == 404
    put = engine.request("PUT", f"/containers/{running}/archive?path=/etc/passwd", tar_of())
    assert put.status == 400 and b"extraction point is not a directory" in put.body


def test_hostile_upload_writes_nothing_outside(
    docker: DockerCLI, container: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = f"doca-cp-escape-{uuid.uuid4().hex}"
    hostile = tar_of(
        (f"../../../../tmp/{escape}", b"contained"),
        ("evil", f"->{outside}"),
        ("evil/pwned", b"pwned"),
    )
    result = cp_stdin(docker, hostile, "-", f"{container}:/tmp")
    assert result.returncode == 1
    assert b"symbolic link" in result.stderr
    assert list(outside.iterdir()) == []
    assert not Path("/tmp", escape).exists()
    # ../ stops at the container's root, as with dockerd: the first member landed in its /tmp.
    docker("cp", f"{container}:/tmp/{escape}", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"contained"

    climbing = tar_of(("../etc/pwned", b"x"))
    result = cp_stdin(docker, climbing, "-", f"{container}:/tmp")
    assert result.returncode == 1 and b"is outside of" in result.stderr


def test_ownership_only_with_archive_flag(docker: DockerCLI, running: str) -> None:
    upload = tar_of(("owned-plain", b"1"), uid=1234)
    assert cp_stdin(docker, upload, "-", f"{running}:/tmp").returncode == 0
    upload = tar_of(("owned-archive", b"1"), uid=1234)
    assert cp_stdin(docker, upload, "-a", "-", f"{running}:/tmp").returncode == 0
    owners = docker("exec", running, "stat", "-c", "%u", "/tmp/owned-plain", "/tmp/owned-archive")
    assert owners.stdout.split() == ["0", "1234"]


def test_copies_are_events(docker: DockerCLI, running: str, tmp_path: Path) -> None:
    since = str(int(time.time()) - 1)
    docker("cp", f"{running}:/etc/passwd", str(tmp_path))
    docker("cp", str(tmp_path / "passwd"), f"{running}:/tmp/")
    actions = docker(
        "events", "--since", since, "--until", str(int(time.time()) + 1),
        "--filter", f"container={running}", "--format", "{{.Action}}",
    ).stdout.split()  # fmt: skip
    assert "archive-path" in actions and "extract-to-dir" in actions


def test_running_container_copies_see_its_mounts(docker: DockerCLI, tmp_path: Path) -> None:
    docker("run", "-d", "--name", "cp-mounts", "--hostname", "cphost", "-v", "cp-vol:/vol",
           "busybox", "sleep", "300")  # fmt: skip
    source = tmp_path / "into-volume.txt"
    source.write_text("in the volume\n")
    docker("cp", str(source), "cp-mounts:/vol/")
    assert docker("exec", "cp-mounts", "cat", "/vol/into-volume.txt").stdout == "in the volume\n"
    out = tmp_path / "out"
    out.mkdir()
    docker("cp", "cp-mounts:/etc/hostname", str(out))
    assert (out / "hostname").read_text() == "cphost\n"
    docker("rm", "-f", "cp-mounts")
    assert docker("run", "--rm", "-v", "cp-vol:/v", "busybox", "cat", "/v/into-volume.txt").stdout
    docker("volume", "rm", "cp-vol")


def test_whole_root_of_a_running_container(docker: DockerCLI, running: str) -> None:
    """/proc and /sys of a running container come as empty directories, as from its root
    filesystem on disk: the kernel's files are not the container's."""
    data = subprocess.run(
        [DOCKER, "cp", f"{running}:/", "-"], capture_output=True, env=docker.env(), timeout=120
    )
    assert data.returncode == 0, data.stderr
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        names = tar.getnames()
    assert "/etc/passwd" in names or "etc/passwd" in [n.lstrip("/") for n in names]
    stripped = [n.lstrip("/") for n in names]
    assert "proc" in stripped and "sys" in stripped
    assert not [n for n in stripped if n.startswith(("proc/", "sys/"))]
