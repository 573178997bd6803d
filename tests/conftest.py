"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import pytest

from tests.support.testimage import BUSYBOX, TestImage, build_test_image


@pytest.fixture(scope="session")
def test_image(tmp_path_factory: pytest.TempPathFactory) -> TestImage:
    """The offline busybox test image (rootfs tar + `docker save` tar), built once per session."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is not installed (/bin/busybox)")
    return build_test_image(tmp_path_factory.mktemp("test-image"))
