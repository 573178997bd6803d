"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import (
    SESSION_BRIDGES,
    DockerCLI,
    EngineProcess,
    remove_network_state,
    running_engine,
)
from tests.support.testimage import BUSYBOX, TestImage, build_test_image


@pytest.fixture(scope="session")
def test_image(tmp_path_factory: pytest.TempPathFactory) -> TestImage:
    """The offline busybox test image (rootfs tar + `docker save` tar), built once per session."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is not installed (/bin/busybox)")
    return build_test_image(tmp_path_factory.mktemp("test-image"))


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")


@pytest.fixture(scope="session", autouse=True)
def _no_test_networks_left() -> Iterator[None]:
    """Engines a test killed cannot clean up after themselves: drop the bridges and firewall
    tables of this session's engines once it ends."""
    yield
    for name in SESSION_BRIDGES:
        remove_network_state(Path("/nonexistent"), name)


@pytest.fixture(scope="module")
def engine(test_image: TestImage) -> Iterator[EngineProcess]:
    """A real doca-engine for one test module, stopped (and its files removed) after it."""
    _require_root()
    with running_engine() as process:
        yield process


@pytest.fixture(scope="module")
def docker(engine: EngineProcess) -> DockerCLI:
    """The real docker CLI, pointed at the module's engine."""
    config_dir = engine.root / "docker-config"
    config_dir.mkdir(exist_ok=True)
    return DockerCLI(engine.host, config_dir, engine.last_error)


@pytest.fixture(scope="module")
def loaded_busybox(docker: DockerCLI, test_image: TestImage) -> TestImage:
    """The test image, loaded into the module's engine with docker load."""
    docker("load", "-i", str(test_image.save_tar))
    return test_image
