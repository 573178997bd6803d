"""The images panel's signature badge: with a trusted public key in the app's settings, an image
pushed to a registry and signed with `doca trust sign` shows "✓ signed", one pushed unsigned
shows "not signed" and one signed by another key "not by a trusted key" — checked against the
registry as `doca trust verify` checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.state.settings import Settings, SettingsFiles
from desktop_app.state.signatures import UNSIGNED, UNTRUSTED
from tests.support.engine import DockerCLI, EngineProcess
from tests.support.registry import docker_registry, registry_available
from tests.support.testimage import TestImage, one_file_rootfs

DOCA = Path(sys.executable).with_name("doca")
DESKTOP_PAGE = "Images"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not registry_available(), reason="docker-registry is needed"),
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_registry(tmp_path_factory.mktemp("badge-registry")) as address:
        yield address


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Key pairs ``release`` (trusted in the app's settings) and ``other``."""
    for name in ("release", "other"):
        keygen = [str(DOCA), "trust", "keygen", "--output-key-prefix", str(tmp_path / name)]
        made = subprocess.run(keygen, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    # A docker config of its own, with an auths entry so that no desktop credential helper
    # (Secret Service needs D-Bus) is picked for the registry's anonymous access.
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    files = SettingsFiles.from_environ()
    files.save(Settings(trust_keys=str(tmp_path / "release.pub")), ["doca-desktop"])
    return tmp_path


@pytest.fixture
def pushed(
    docker: DockerCLI, registry: str, trusted: Path, loaded_busybox: TestImage
) -> Iterator[dict[str, str]]:
    """Three pushed images, pulled back so the engine knows their repository digests."""
    images = {name: f"{registry}/badge/{name}:1" for name in ("signed", "plain", "stranger")}
    for name, reference in images.items():
        docker("import", "-", reference, input=one_file_rootfs(name))
        docker("push", reference)
        if name != "plain":
            key = trusted / ("release.key" if name == "signed" else "other.key")
            signed = subprocess.run([str(DOCA), "-H", docker.host, "trust", "sign", "--key",
                                     str(key), reference], capture_output=True, text=True,
                                    timeout=60, env={**docker.env(), "DOCKER_CONFIG":
                                                     os.environ["DOCKER_CONFIG"]})  # fmt: skip
            assert signed.returncode == 0, signed.stderr
        docker("rmi", reference)
        docker("pull", reference)
    yield images
    for reference in images.values():
        docker("rmi", reference, check=False)


def test_signed_images_get_a_badge(
    qtbot: QtBot, pushed: dict[str, str], desktop: DesktopApp, engine: EngineProcess
) -> None:
    model = desktop.window.images.images_model

    def badges() -> dict[str, str]:
        tags = model.column_texts("Repository:Tag")
        return dict(zip(tags, model.column_texts("Signature"), strict=True))

    want = {pushed["signed"]: "✓ signed", pushed["plain"]: UNSIGNED,
            pushed["stranger"]: UNTRUSTED}  # fmt: skip
    qtbot.waitUntil(lambda: all(badges().get(k) == v for k, v in want.items()), timeout=30_000)
    row = model.column_texts("Repository:Tag").index(pushed["signed"])
    assert "release.pub" in model.rows()[row].signature_detail
    assert badges()["busybox:latest"] == ""  # no repository digest: nothing to check
