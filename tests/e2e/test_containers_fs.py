"""docker diff, export and commit against a real doca-engine."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, DockerCLI

pytestmark = pytest.mark.usefixtures("loaded_busybox")

SCRIPT = "echo hi > /root/new; rm /etc/group; mkdir -p /var/x; ln -s /etc /var/x/etc-link"


@pytest.fixture(scope="module")
def changed(docker: DockerCLI) -> str:
    docker("run", "--name", "changed", "busybox", "sh", "-c", SCRIPT)
    return "changed"


def test_diff_lists_changes(docker: DockerCLI, changed: str) -> None:
    rows = docker("diff", changed).stdout.splitlines()
    assert rows == ["C /etc", "D /etc/group", "C /root", "A /root/new", "C /var", "A /var/x",
                    "A /var/x/etc-link"]  # fmt: skip


def test_export_is_the_whole_filesystem(docker: DockerCLI, changed: str, tmp_path: Path) -> None:
    data = subprocess.run(
        [DOCKER, "export", changed], capture_output=True, env=docker.env(), check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        link = tar.getmember("var/x/etc-link")
        assert link.issym() and link.linkname == "/etc"
        assert tar.extractfile("root/new").read() == b"hi\n"  # type: ignore[union-attr]
    assert "bin/busybox" in names and "etc/passwd" in names
    assert "etc/group" not in names
    # the absolute link was kept as a link: nothing of the host's /etc came along
    assert not any(n.startswith("var/x/etc-link/") for n in names)
    assert not os.path.exists(tmp_path / "x")


def test_commit_makes_an_image_with_the_changes(docker: DockerCLI, changed: str) -> None:
    image_id = docker(
        "commit", "-c", 'CMD ["cat", "/root/new"]', "-m", "a message", "-a", "someone",
        changed, "committed:1",
    ).stdout.strip()  # fmt: skip
    assert image_id.startswith("sha256:")
    assert docker("run", "--rm", "committed:1").stdout == "hi\n"
    gone = docker("run", "--rm", "committed:1", "ls", "/etc/group", check=False)
    assert gone.returncode != 0
    data = json.loads(docker("image", "inspect", "committed:1").stdout)[0]
    assert data["Comment"] == "a message" and data["Author"] == "someone"
    assert data["Config"]["Cmd"] == ["cat", "/root/new"]
    assert len(data["RootFS"]["Layers"]) == 2
    assert data["Parent"] != ""
    history = docker("history", "--format", "{{.Comment}}", "committed:1").stdout.splitlines()
    assert history[0] == "a message"
    # the image holds the container: it cannot be removed while the container exists
    docker("run", "--name", "child", "committed:1")
    result = docker("rmi", "committed:1", check=False)
    assert result.returncode != 0 and "container" in result.stderr
    docker("rm", "child")
    docker("rmi", "committed:1")


def test_commit_of_a_running_container_pauses_it(docker: DockerCLI) -> None:
    docker("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo x > /x; sleep 300")
    docker("commit", "live", "live-image:1")
    state = json.loads(docker("inspect", "live").stdout)[0]["State"]
    assert state["Status"] == "running"
    assert docker("run", "--rm", "live-image:1", "cat", "/x").stdout == "x\n"
    docker("rm", "-f", "live")
    docker("rmi", "live-image:1")
