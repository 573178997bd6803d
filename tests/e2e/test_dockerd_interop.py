"""Archives move between Debian's dockerd and Doca with the same image IDs and layers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DockerCLI, short_root
from tests.support.testimage import TestImage

pytestmark = pytest.mark.skipif(
    not dockerd_available(), reason="Debian's dockerd (package docker.io) is not installed"
)


@pytest.fixture(scope="module")
def dockerd_cli() -> Iterator[DockerCLI]:
    root = short_root()
    daemon = Dockerd(root)
    cli = DockerCLI(daemon.host, root)
    daemon.start(lambda: cli("version", check=False).returncode == 0)
    try:
        yield cli
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def image_id_and_layers(cli: DockerCLI, name: str) -> tuple[str, list[str]]:
    data = json.loads(cli("image", "inspect", name).stdout)[0]
    return data["Id"], data["RootFS"]["Layers"]


def test_dockerd_archive_loads_into_doca_and_back(
    dockerd_cli: DockerCLI, docker: DockerCLI, test_image: TestImage, tmp_path: Path
) -> None:
    dockerd_cli("load", "-i", str(test_image.save_tar))
    dockerd_cli("tag", "busybox", "interop:1")
    from_dockerd = tmp_path / "from-dockerd.tar"
    dockerd_cli("save", "-o", str(from_dockerd), "interop:1")
    expected = image_id_and_layers(dockerd_cli, "interop:1")

    assert "Loaded image: interop:1" in docker("load", "-i", str(from_dockerd)).stdout
    assert image_id_and_layers(docker, "interop:1") == expected

    from_doca = tmp_path / "from-doca.tar"
    docker("save", "-o", str(from_doca), "interop:1")
    dockerd_cli("rmi", "interop:1", "busybox")
    assert "Loaded image: interop:1" in dockerd_cli("load", "-i", str(from_doca)).stdout
    assert image_id_and_layers(dockerd_cli, "interop:1") == expected
