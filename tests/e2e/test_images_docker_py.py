"""docker-py's image API against a real doca-engine."""

from __future__ import annotations

from collections.abc import Iterator

import docker as docker_py
import pytest

from tests.support.engine import EngineProcess
from tests.support.testimage import TestImage


@pytest.fixture(scope="module")
def client(engine: EngineProcess) -> Iterator[docker_py.DockerClient]:
    client = docker_py.DockerClient(base_url=engine.host, version="auto", timeout=60)
    yield client
    client.close()


def test_load_list_get_remove(client: docker_py.DockerClient, test_image: TestImage) -> None:
    loaded = client.images.load(test_image.save_tar.read_bytes())
    assert [image.id for image in loaded] == [test_image.image_id]
    assert loaded[0].tags == ["busybox:latest"]

    listed = {image.id: image.tags for image in client.images.list()}
    assert listed[test_image.image_id] == ["busybox:latest"]
    assert client.images.list(name="busybox")[0].id == test_image.image_id

    image = client.images.get("busybox")
    assert image.attrs["RootFS"]["Layers"] == test_image.diff_ids
    assert image.history()[0]["Id"] == test_image.image_id
    assert image.tag("pyclient", "v1") is True
    assert "pyclient:v1" in client.images.get("pyclient:v1").tags

    client.images.remove("pyclient:v1")
    with pytest.raises(docker_py.errors.ImageNotFound):
        client.images.get("pyclient:v1")
    client.images.remove(test_image.image_id, force=True)
    assert client.images.list() == []


def test_save_with_docker_py(client: docker_py.DockerClient, test_image: TestImage) -> None:
    client.images.load(test_image.save_tar.read_bytes())
    data = b"".join(client.images.get("busybox").save(named=True))
    reloaded = client.images.load(data)
    assert reloaded[0].id == test_image.image_id


def test_errors_map_to_docker_py_exceptions(client: docker_py.DockerClient) -> None:
    with pytest.raises(docker_py.errors.ImageNotFound, match="No such image"):
        client.images.get("nothing-here:1")
    with pytest.raises(docker_py.errors.APIError) as info:
        client.images.load(b"not a tar")
    assert info.value.status_code == 400
