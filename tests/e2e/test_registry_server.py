"""Debian's dockerd pushes to and pulls from `doca registry serve`, with and without accounts."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DOCKER, DockerCLI, short_root, wait_ready
from tests.support.testimage import TestImage

DOCA = Path(sys.executable).parent / "doca"
USER, PASSWORD = "pusher", "correct horse"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not dockerd_available(), reason="Debian's dockerd (package docker.io) is not installed"
    ),
    pytest.mark.skipif(
        not os.path.exists(DOCKER), reason=f"the docker CLI ({DOCKER}) is not installed"
    ),
    pytest.mark.skipif(not DOCA.exists(), reason=f"the doca console script ({DOCA}) is missing"),
]

_SERVING = re.compile(r"Serving registry on http://127\.0\.0\.1:(\d+)")


@dataclass
class RegistryProcess:
    """One `doca registry serve` on 127.0.0.1 and a free port it picks itself."""

    root: Path
    htpasswd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def log(self) -> Path:
        return self.root / "registry.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [str(DOCA), "registry", "serve", "--addr", "127.0.0.1:0", "--root"]
        argv.append(str(self.root / "data"))
        if self.htpasswd is not None:
            argv += ["--htpasswd", str(self.htpasswd)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self._bound, 30, lambda: self.log.read_text(errors="replace"))

    def _bound(self) -> bool:
        match = _SERVING.search(self.log.read_text(errors="replace"))
        if match:
            self.port = int(match[1])
        return match is not None

    def get_json(self, path: str) -> object:
        with urllib.request.urlopen(f"http://{self.address}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def dockerd_cli() -> Iterator[DockerCLI]:
    root = short_root()
    daemon = Dockerd(root)
    cli = DockerCLI(daemon.host, root / "docker-config")
    daemon.start(lambda: cli("version", check=False).returncode == 0)
    try:
        yield cli
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def registry_root() -> Iterator[Path]:
    root = short_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _image_id(cli: DockerCLI, reference: str) -> str:
    return str(json.loads(cli("image", "inspect", reference).stdout)[0]["Id"])


def test_push_then_pull_after_rmi(
    dockerd_cli: DockerCLI, test_image: TestImage, registry_root: Path
) -> None:
    registry = RegistryProcess(registry_root)
    registry.start()
    try:
        dockerd_cli("load", "-i", str(test_image.save_tar))
        reference = f"{registry.address}/e2e/busybox:v1"
        dockerd_cli("tag", test_image.repo_tag, reference)
        pushed = dockerd_cli("push", reference)
        assert "v1: digest: sha256:" in pushed.stdout
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed.stdout)
        assert digest is not None

        assert registry.get_json("/v2/_catalog") == {"repositories": ["e2e/busybox"]}
        assert registry.get_json("/v2/e2e/busybox/tags/list") == {
            "name": "e2e/busybox",
            "tags": ["v1"],
        }

        dockerd_cli("rmi", reference)
        dockerd_cli("rmi", test_image.repo_tag)
        assert dockerd_cli("image", "inspect", reference, check=False).returncode != 0
        pulled = dockerd_cli("pull", reference)
        assert digest[1] in pulled.stdout
        assert _image_id(dockerd_cli, reference) == test_image.image_id
        # Pulling by digest works too.
        dockerd_cli("pull", f"{registry.address}/e2e/busybox@{digest[1]}")
    finally:
        dockerd_cli("rmi", "-f", f"{registry.address}/e2e/busybox:v1", check=False)
        registry.stop()
    assert registry.proc is not None and registry.proc.returncode == 0
    log = registry.log.read_text(errors="replace")
    assert "Traceback" not in log and " 500 " not in log, log


def _file_credentials_cli(host: str, config_dir: Path) -> DockerCLI:
    """A docker CLI that keeps logins in its own config.json.

    With no auths in config.json the CLI would pick a desktop credential helper it finds on
    PATH (secretservice needs D-Bus); an existing entry makes it use the file.
    """
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    return DockerCLI(host, config_dir)


def test_login_then_push_and_wrong_password(
    dockerd_cli: DockerCLI, test_image: TestImage, registry_root: Path
) -> None:
    dockerd_cli = _file_credentials_cli(dockerd_cli.host, registry_root / "docker-config")
    htpasswd = registry_root / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    htpasswd.write_text(f"{USER}:{hashed.replace('$2b$', '$2y$', 1)}\n")
    registry = RegistryProcess(registry_root, htpasswd)
    registry.start()
    reference = f"{registry.address}/private/busybox:v1"
    try:
        dockerd_cli("load", "-i", str(test_image.save_tar))
        dockerd_cli("tag", test_image.repo_tag, reference)

        anonymous = dockerd_cli("push", reference, check=False)
        assert anonymous.returncode != 0
        assert "no basic auth credentials" in anonymous.stderr + anonymous.stdout

        wrong = dockerd_cli(
            "login",
            registry.address,
            "-u",
            USER,
            "--password-stdin",
            input=b"not the password",
            check=False,
        )
        assert wrong.returncode != 0
        assert "unauthorized" in wrong.stderr.lower()

        login = dockerd_cli(
            "login", registry.address, "-u", USER, "--password-stdin", input=PASSWORD.encode()
        )
        assert "Login Succeeded" in login.stdout
        assert "v1: digest: sha256:" in dockerd_cli("push", reference).stdout
        dockerd_cli("rmi", reference)
        dockerd_cli("pull", reference)
        assert _image_id(dockerd_cli, reference) == test_image.image_id
        saved = json.loads((registry_root / "docker-config" / "config.json").read_text())
        assert registry.address in saved["auths"]
        dockerd_cli("logout", registry.address)
    finally:
        dockerd_cli("rmi", "-f", reference, check=False)
        registry.stop()
