"""The ``vm`` marker: tests that boot the engine's VM under QEMU."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vm: boots the engine's Linux VM under QEMU (slow)")
