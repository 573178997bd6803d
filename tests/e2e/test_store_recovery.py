"""A SIGKILL of the engine in the middle of a load leaves a consistent store after restart."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage, build_layer_tar, build_save_tar


@pytest.fixture(scope="module")
def big_image(test_image: TestImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image whose second layer has thousands of files, so unpacking it takes a while."""
    directory = tmp_path_factory.mktemp("big-image")
    rng = random.Random(7)
    files = {f"data/d{i % 50}/f{i}": rng.randbytes(rng.randint(1, 4000)) for i in range(6000)}
    layer = build_layer_tar(directory / "layer.tar", files)
    save = directory / "big.tar"
    build_save_tar(save, test_image.rootfs_tar, ["big:1"], extra_layers=[layer])
    return save


@pytest.fixture
def fresh_engine() -> Iterator[EngineProcess]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    process = EngineProcess(short_root())
    process.start()
    yield process
    process.stop(signal.SIGKILL)
    process.cleanup()


def _post_load(engine: EngineProcess, body: bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(engine.socket))
    head = (
        "POST /v1.47/images/load?quiet=1 HTTP/1.1\r\nHost: doca\r\n"
        f"Content-Type: application/x-tar\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode())
    sock.sendall(body)
    return sock


def test_sigkill_during_load_keeps_the_store_consistent(
    fresh_engine: EngineProcess, test_image: TestImage, big_image: Path
) -> None:
    docker = DockerCLI(fresh_engine.host, fresh_engine.root)
    docker("load", "-i", str(test_image.save_tar))
    body = big_image.read_bytes()
    started = time.monotonic()
    docker("load", "-i", str(big_image))
    duration = time.monotonic() - started
    docker("rmi", "big:1")
    interrupted = 0
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9, 1.5):
        sock = _post_load(fresh_engine, body)
        time.sleep(duration * fraction)
        fresh_engine.stop(signal.SIGKILL)
        sock.close()
        data = fresh_engine.data_root
        leftovers = os.listdir(data / "content" / "ingest") + [
            p for p in os.listdir(data / "snapshots") if p.startswith(".")
        ]
        interrupted += bool(leftovers)
        fresh_engine.start()
        images = json.loads(docker("images", "--format", "{{json .}}").stdout.splitlines()[0])
        names = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        assert "busybox:latest" in names, images
        assert os.listdir(data / "content" / "ingest") == []
        assert os.listdir(data / "tmp") == []
        assert not [p for p in os.listdir(data / "snapshots") if p.startswith(".")]
        if "big:1" in names:
            # the load committed before the kill: the image must be whole
            lower = docker(
                "image", "inspect", "big:1", "--format", "{{.GraphDriver.Data.LowerDir}}"
            )
            top = Path(lower.stdout.strip().split(":")[0])
            assert len(list((top / "data").rglob("f*"))) == 6000
            docker("rmi", "big:1")
        # a committed image keeps working: it can be saved and loaded again
        docker("save", "-o", str(fresh_engine.root / "bb.tar"), "busybox")
        assert (
            "Loaded image: busybox:latest"
            in docker("load", "-i", str(fresh_engine.root / "bb.tar")).stdout
        )
    assert interrupted, "no kill landed in the middle of a load; the test proved nothing"
    # and a load that is not interrupted still works after all that
    assert "Loaded image: big:1" in docker("load", "-i", str(big_image)).stdout
