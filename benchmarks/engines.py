"""Engines to measure side by side, each on its own socket and data root."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage, build_test_image


@dataclass
class Engine:
    name: str
    cli: DockerCLI


@contextlib.contextmanager
def doca_engine(image: TestImage) -> Iterator[Engine]:
    root = short_root()
    process = EngineProcess(root, ["--log-level", "warn"])
    process.start()
    try:
        cli = DockerCLI(process.host, root)
        cli("load", "-i", str(image.save_tar))
        yield Engine("doca", cli)
    finally:
        process.stop(signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def debian_dockerd(image: TestImage) -> Iterator[Engine | None]:
    if not dockerd_available():
        yield None
        return
    root = short_root()
    daemon = Dockerd(root)
    cli = DockerCLI(daemon.host, root)
    daemon.start(lambda: cli("version", check=False).returncode == 0)
    try:
        cli("load", "-i", str(image.save_tar))
        yield Engine("dockerd", cli)
    finally:
        daemon.stop()
        subprocess.run(["umount", "-R", str(root)], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_image(cache: Path) -> TestImage:
    cache.mkdir(parents=True, exist_ok=True)
    return build_test_image(cache)
