"""docker-py's container API against a real doca-engine."""

from __future__ import annotations

from collections.abc import Iterator

import docker as docker_py
import pytest

from tests.support.engine import EngineProcess
from tests.support.testimage import TestImage


@pytest.fixture(scope="module")
def client(engine: EngineProcess, test_image: TestImage) -> Iterator[docker_py.DockerClient]:
    client = docker_py.DockerClient(base_url=engine.host, version="auto", timeout=60)
    client.images.load(test_image.save_tar.read_bytes())
    yield client
    client.close()


def test_run_returns_output(client: docker_py.DockerClient) -> None:
    assert client.containers.run("busybox", ["echo", "hello"], remove=True) == b"hello\n"


def test_run_failure_raises_container_error(client: docker_py.DockerClient) -> None:
    with pytest.raises(docker_py.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 2"], remove=True)
    assert info.value.exit_status == 2
    assert b"bad" in info.value.stderr


def test_create_start_logs_wait_remove(client: docker_py.DockerClient) -> None:
    container = client.containers.create(
        "busybox", ["sh", "-c", "echo out; echo err >&2; exit 5"], name="pyc", labels={"a": "b"}
    )
    assert container.status == "created"
    container.start()
    assert container.wait(timeout=30) == {"StatusCode": 5, "Error": None}
    assert container.logs(stdout=True, stderr=False) == b"out\n"
    assert container.logs(stdout=False, stderr=True) == b"err\n"
    container.reload()
    assert container.status == "exited"
    assert container.labels == {"a": "b"}
    assert [c.name for c in client.containers.list(all=True, filters={"label": "a=b"})] == ["pyc"]
    container.remove()
    with pytest.raises(docker_py.errors.NotFound):
        client.containers.get("pyc")


def test_exec_run_kill_and_list(client: docker_py.DockerClient) -> None:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True, name="pysleep")
    try:
        assert container.id in [c.id for c in client.containers.list()]
        result = container.exec_run(["sh", "-c", "echo $((6*7)); exit 3"])
        assert result.exit_code == 3
        assert result.output == b"42\n"
        out = container.exec_run(["id", "-u"], user="app", demux=True)
        assert out.output == (b"1000\n", None)
        container.kill()
        assert container.wait(timeout=30)["StatusCode"] == 137
        assert container.id not in [c.id for c in client.containers.list()]
    finally:
        container.remove(force=True)


def test_attach_stream_with_detach_false(client: docker_py.DockerClient) -> None:
    container = client.containers.run(
        "busybox", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"], detach=True
    )
    chunks = b"".join(container.logs(stream=True, follow=True))
    assert chunks == b"1\n2\n3\n"
    container.remove(force=True)


def test_stats_one_shot_and_stream(client: docker_py.DockerClient) -> None:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True, mem_limit="48m")
    try:
        one = container.stats(stream=False)
        assert one["name"] == "/" + container.name
        assert one["memory_stats"]["limit"] == 48 * 1024 * 1024
        assert one["pids_stats"]["current"] == 1
        assert one["cpu_stats"]["system_cpu_usage"] > one["precpu_stats"]["system_cpu_usage"] > 0
        stream = container.stats(stream=True, decode=True)
        first, second = next(stream), next(stream)
        assert (
            second["precpu_stats"]["system_cpu_usage"] == (first["cpu_stats"]["system_cpu_usage"])
        )
        top = container.top()
        assert "PID" in top["Titles"] and len(top["Processes"]) == 1
    finally:
        container.remove(force=True)
