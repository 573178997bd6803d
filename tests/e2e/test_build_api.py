"""``POST /build`` through docker-py, and bad or hostile requests against a real engine."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker as docker_py
import pytest

from tests.support.engine import EngineProcess

pytestmark = pytest.mark.usefixtures("loaded_busybox")


@pytest.fixture(scope="module")
def client(engine: EngineProcess) -> Iterator[docker_py.DockerClient]:
    client = docker_py.DockerClient(base_url=engine.host, version="auto", timeout=120)
    yield client
    client.close()


def context_tar(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buffer.getvalue()


def raw_build(client: docker_py.DockerClient, body: bytes, **params: Any) -> list[dict[str, Any]]:
    stream = client.api.build(fileobj=io.BytesIO(body), custom_context=True, decode=True, **params)
    return list(stream)


def test_docker_py_builds_and_tags(client: docker_py.DockerClient, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nARG WHO\nLABEL built.by=$WHO\nRUN echo built by $WHO > /who\n"
    )
    image, logs = client.images.build(
        path=str(tmp_path), tag="pybuilt:1", buildargs={"WHO": "docker-py"}, rm=True
    )
    text = "".join(entry.get("stream", "") for entry in logs)
    assert "Successfully built" in text
    assert image.tags == ["pybuilt:1"]
    assert image.labels == {"built.by": "docker-py"}
    output = client.containers.run("pybuilt:1", ["cat", "/who"], remove=True)
    assert output == b"built by docker-py\n"


def test_docker_py_dockerfile_from_a_file_object(client: docker_py.DockerClient) -> None:
    dockerfile = io.BytesIO(b'FROM busybox\nCMD ["echo", "from fileobj"]\n')
    image, _ = client.images.build(fileobj=dockerfile, tag="pyfileobj")
    assert image.attrs["Config"]["Cmd"] == ["echo", "from fileobj"]


def test_a_failed_step_is_an_error_in_the_stream(client: docker_py.DockerClient) -> None:
    dockerfile = io.BytesIO(b"FROM busybox\nRUN echo failing; exit 5\n")
    with pytest.raises(docker_py.errors.BuildError) as raised:
        client.images.build(fileobj=dockerfile)
    assert "returned a non-zero code: 5" in str(raised.value)
    assert any("failing" in entry.get("stream", "") for entry in raised.value.build_log)


def test_hostile_context_paths_are_refused(
    client: docker_py.DockerClient, engine: EngineProcess
) -> None:
    escape = tarfile.TarInfo("../../escaped-by-build")
    escape.size = 1
    body = context_tar({"Dockerfile": b"FROM busybox\n"}, [escape])
    with pytest.raises(docker_py.errors.APIError) as raised:
        raw_build(client, body)
    assert raised.value.status_code == 400
    assert not list(engine.root.rglob("escaped-by-build"))
    assert not Path("/tmp/escaped-by-build").exists()


def test_a_context_symlink_never_leads_copy_outside(client: docker_py.DockerClient) -> None:
    link = tarfile.TarInfo("hostfile")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/hostname"
    body = context_tar({"Dockerfile": b"FROM busybox\nCOPY hostfile /got\n"}, [link])
    messages = raw_build(client, body)
    errors = [m for m in messages if "error" in m]
    if not errors:  # copied as what the link points to inside the context: nothing
        pytest.fail(f"COPY of a dangling context link succeeded: {messages}")
    assert "hostfile" in errors[0]["error"]


def test_bad_parameters(client: docker_py.DockerClient) -> None:
    body = context_tar({"Dockerfile": b"FROM busybox\n"})
    for params, expected in (
        ({"buildargs": "not json"}, "buildargs"),
        ({"remote": "https://example.invalid/repo.git"}, "remote build contexts"),
        ({"t": "repo/UPPER"}, "invalid reference format"),
        ({"dockerfile": "Missing"}, "Cannot locate specified Dockerfile: Missing"),
        ({"target": "none-such"}, "failed to reach build target none-such"),
        ({"memory": "1"}, "Minimum memory limit"),
    ):
        with pytest.raises(docker_py.errors.APIError) as raised:
            response = client.api._post(
                client.api._url("/build"),
                params={k: v for k, v in params.items()},
                data=body,
                headers={"Content-Type": "application/x-tar"},
            )
            client.api._raise_for_status(response)
            for line in response.iter_lines():
                if b'"error"' in line:
                    raise docker_py.errors.APIError(line.decode(), response)
        assert expected in str(raised.value), params


def test_garbage_body_is_a_bad_request(client: docker_py.DockerClient) -> None:
    with pytest.raises(docker_py.errors.APIError) as raised:
        raw_build(client, b"this is not a tar archive" * 40)
    assert raised.value.status_code == 400


def test_buildkit_requests_are_refused_clearly(client: docker_py.DockerClient) -> None:
    body = context_tar({"Dockerfile": b"FROM busybox\n"})
    response = client.api._post(
        client.api._url("/build"), params={"version": "2"}, data=body,
        headers={"Content-Type": "application/x-tar"},
    )  # fmt: skip
    assert response.status_code == 501
    assert "DOCKER_BUILDKIT=0" in response.json()["message"]
