"""A full disk: the engine's data root on a small filesystem. Operations that need more room
fail with a clean error, leave nothing half-made, and work again once room is freed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.summary import record
from tests.support.engine import DOCKER, DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage

pytestmark = pytest.mark.reliability

SIZE_MB = 48


def mount_small(target: Path) -> None:
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(target)],
                   check=True)  # fmt: skip


@pytest.fixture(scope="module")
def small(test_image: TestImage) -> Iterator[tuple[EngineProcess, DockerCLI]]:
    root = short_root()
    mount_small(root / "data")
    process = EngineProcess(root)
    try:
        process.start()
        config = root / "docker-config"
        config.mkdir()
        docker = DockerCLI(process.host, config, process.last_error)
        docker("load", "-i", str(test_image.save_tar))
        yield process, docker
    finally:
        process.stop()
        process.cleanup()
        subprocess.run(["umount", "-R", "-l", str(root / "data")], check=False)
        shutil.rmtree(root, ignore_errors=True)


def big_image_tar(path: Path, test_image: TestImage, megabytes: int) -> Path:
    """A ``docker save`` archive: the test image's layer plus ``megabytes`` of random bytes."""
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = megabytes << 20
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    layers = [test_image.rootfs_tar.read_bytes(), big.getvalue()]
    diff_ids = [f"sha256:{hashlib.sha256(layer).hexdigest()}" for layer in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()  # fmt: skip
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    layer_names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["big:1"], "Layers": layer_names}])
    with tarfile.open(path, "w") as out:
        for name, data in [*zip(layer_names, layers, strict=True), (config_name, config),
                           ("manifest.json", manifest.encode())]:  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


def free_mb(process: EngineProcess) -> float:
    stat = os.statvfs(process.data_root)
    return stat.f_bavail * stat.f_frsize / (1 << 20)


def test_load_that_does_not_fit(
    small: tuple[EngineProcess, DockerCLI], test_image: TestImage, tmp_path: Path
) -> None:
    process, docker = small
    images = docker("images", "-aq").stdout.split()
    tar = big_image_tar(tmp_path / "big.tar", test_image, SIZE_MB)
    result = docker("load", "-i", str(tar), check=False)
    assert result.returncode != 0
    assert "no space left on device" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
    assert docker("images", "-aq").stdout.split() == images  # nothing half-made listed
    assert free_mb(process) > SIZE_MB / 2  # what the failed load wrote was removed
    record("disk full", "docker load bigger than the disk", "clean ENOSPC error, space freed")


def test_writes_inside_a_container_fail_then_work_again(
    small: tuple[EngineProcess, DockerCLI],
) -> None:
    process, docker = small
    fill = docker("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c",
                  f"dd if=/dev/zero of=/fill bs=1M count={SIZE_MB * 2}", check=False)  # fmt: skip
    assert fill.returncode != 0 and "No space left on device" in fill.stderr
    # the engine itself copes while the disk is full
    created = docker("create", "--network", "none", "busybox", "true", check=False)
    volume = docker("volume", "create", "full-v", check=False)
    for result in (created, volume):
        if result.returncode != 0:
            assert "Traceback" not in result.stderr
            assert "no space left on device" in result.stderr.lower(), result.stderr
    commit = docker("commit", "filler", "filled:1", check=False)
    assert commit.returncode != 0 and "no space left" in commit.stderr.lower(), commit.stderr
    assert "filled" not in docker("images").stdout
    docker("rm", "-f", "filler")
    docker("container", "prune", "-f")
    docker("volume", "prune", "-af")
    assert free_mb(process) > SIZE_MB / 2
    out = docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo ok > /f; cat /f")
    assert out.stdout == "ok\n"
    docker("volume", "create", "after-v")
    record("disk full", "container fills the disk", "ENOSPC in the container; commit refused "
           "cleanly; works again after rm")  # fmt: skip


def test_engine_restarts_on_a_full_disk(small: tuple[EngineProcess, DockerCLI]) -> None:
    process, docker = small
    filler = process.data_root / "filler.bin"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
        except OSError:
            pass
    try:
        process.stop()
        process.start()
        assert docker("ps", "-a", "--format", "{{.ID}}").returncode == 0
        assert "busybox" in docker("images").stdout
    finally:
        filler.unlink()
    assert (
        subprocess.run([DOCKER, "version"], env=docker.env(), capture_output=True).returncode == 0
    )
    record("disk full", "engine restart with 0 bytes free", "starts, lists everything")
