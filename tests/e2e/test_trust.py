"""Signed images end to end: a doca-engine whose daemon.json requires signatures for
``127.0.0.1:PORT/signed/*``, Debian's docker-registry on loopback, the real docker CLI pulling
and running, and ``doca trust`` signing and verifying in cosign's format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.trust.keys import load_private_key, load_public_key
from engine.trust.signature_image import SIGNATURE_ANNOTATION, SIMPLE_SIGNING
from tests.support.engine import DOCKER, DockerCLI, EngineProcess, running_engine
from tests.support.registry import docker_registry, registry_available
from tests.support.testimage import TestImage, one_file_rootfs

DOCA = Path(sys.executable).with_name("doca")
USER, PASSWORD = "signer", "s3cret-pass"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(DOCKER).exists(), reason=f"the docker CLI ({DOCKER}) is missing"),
    pytest.mark.skipif(not registry_available(), reason="docker-registry is needed"),
]


@dataclass
class Setup:
    engine: EngineProcess
    docker: DockerCLI
    registry: str
    keys: Path
    # The policy's pattern, as the engine names it in refusals.
    pattern: str

    def doca(self, *args: str, config_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = self.docker.env()
        if config_dir is not None:
            env["DOCKER_CONFIG"] = str(config_dir)
        return subprocess.run(
            [str(DOCA), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    def sign(self, reference: str, key: str = "release") -> str:
        signed = self.doca("trust", "sign", "--key", str(self.keys / f"{key}.key"), reference)
        assert signed.returncode == 0, signed.stderr
        return signed.stdout

    def push(self, source: str, reference: str) -> None:
        self.docker("tag", source, reference)
        self.docker("push", reference)


def _config_dir(path: Path) -> Path:
    """A docker config of its own; an ``auths`` entry keeps the CLI from picking the desktop's
    credential helper (secretservice needs D-Bus)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, test_image: TestImage) -> Iterator[Setup]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root")
    root = tmp_path_factory.mktemp("trust")
    keys = root / "keys"
    keys.mkdir()
    for name in ("release", "other"):
        prefix = str(keys / name)
        made = subprocess.run(
            [str(DOCA), "trust", "keygen", "--output-key-prefix", prefix],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert made.returncode == 0, made.stderr
    (root / "registry").mkdir()
    with docker_registry(root / "registry") as address:
        pattern = f"{address}/signed/*"
        daemon = keys / "daemon.json"
        # A key path relative to daemon.json's directory.
        policy = {pattern: {"require-signature": True, "keys": ["release.pub"]}}
        daemon.write_text(json.dumps({"trust": policy}))
        with running_engine(["--config-file", str(daemon)]) as engine:
            docker = DockerCLI(engine.host, _config_dir(root / "docker-config"), engine.last_error)
            docker("load", "-i", str(test_image.save_tar))
            yield Setup(engine, docker, address, keys, pattern)


@pytest.fixture(scope="module")
def images(setup: Setup, test_image: TestImage) -> dict[str, str]:
    """The registry's images, pushed from the engine (the policy does not stop pushes):
    name → reference."""
    registry, busybox = setup.registry, test_image.repo_tag
    found = {
        "good": f"{registry}/signed/good:1",  # busybox, signed with the policy's key
        "pulled": f"{registry}/signed/pulled:1",  # the same, never run before it is pulled
        "pushed": f"{registry}/signed/pushed:1",  # busybox, pushed but never signed
        "open": f"{registry}/open/app:1",  # outside the policy, never signed
    }
    for name, reference in found.items():
        setup.push(busybox, reference)
        if name in ("good", "pulled"):
            setup.sign(reference)
    for name, key in (("unsigned", None), ("stranger", "other")):
        reference = f"{registry}/signed/{name}:1"
        setup.docker("import", "-", reference, input=one_file_rootfs(name))
        setup.docker("push", reference)
        if key is not None:
            setup.sign(reference, key)
        found[name] = reference
    return found


def _repo_digest(setup: Setup, reference: str) -> str:
    inspect = json.loads(setup.docker("image", "inspect", reference).stdout)[0]
    repository = reference.rsplit(":", 1)[0]
    return next(d for d in inspect["RepoDigests"] if d.startswith(repository + "@")).split("@")[1]


def _refused(setup: Setup, image: str, reason: str) -> str:
    policy = f'trust policy "{setup.pattern}"'
    return f'image "{image}" refused by {policy}: signature required, but {reason}'


# -- doca trust -----------------------------------------------------------------------------


def test_keygen_writes_a_p256_pair(setup: Setup) -> None:
    private = setup.keys / "release.key"
    assert private.stat().st_mode & 0o777 == 0o600
    load_private_key(private.read_bytes(), "release.key")
    load_public_key((setup.keys / "release.pub").read_bytes(), "release.pub")
    again = setup.doca("trust", "keygen", "--output-key-prefix", str(setup.keys / "release"))
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_signature_is_stored_as_cosign_stores_it(setup: Setup, images: dict[str, str]) -> None:
    reference = images["good"]
    digest = _repo_digest(setup, reference)
    tag = f"sha256-{digest.removeprefix('sha256:')}.sig"
    request = urllib.request.Request(
        f"http://{setup.registry}/v2/signed/good/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        manifest = json.loads(response.read())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING
    assert list(layer["annotations"]) == [SIGNATURE_ANNOTATION]
    blob = f"http://{setup.registry}/v2/signed/good/blobs/{layer['digest']}"
    with urllib.request.urlopen(blob, timeout=10) as response:
        payload = json.loads(response.read())
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["identity"]["docker-reference"] == f"{setup.registry}/signed/good"
    # Signing again with the same key adds nothing.
    assert "already signed with this key" in setup.sign(reference)


def test_doca_trust_verify_agrees(setup: Setup, images: dict[str, str]) -> None:
    release, other = str(setup.keys / "release.pub"), str(setup.keys / "other.pub")
    good = setup.doca("trust", "verify", "--key", release, images["good"])
    assert good.returncode == 0, good.stderr
    digest = _repo_digest(setup, images["good"])
    [line] = good.stdout.splitlines()
    assert line.startswith(f"Verified {setup.registry}/signed/good@{digest}: signed by {release}")

    wrong_key = setup.doca("trust", "verify", "--key", other, images["good"])
    assert wrong_key.returncode == 1
    assert "no matching signatures" in wrong_key.stderr
    assert "not signed by a trusted key" in wrong_key.stderr

    unsigned = setup.doca("trust", "verify", "--key", release, images["unsigned"])
    assert unsigned.returncode == 1
    assert "Error: no signatures found for" in unsigned.stderr
    stranger = setup.doca("trust", "verify", "--key", release, "--key", other, images["stranger"])
    assert stranger.returncode == 0, stranger.stderr
    assert f"signed by {other}" in stranger.stdout


# -- the engine's policy --------------------------------------------------------------------


def test_images_already_stored_are_verified_at_run(setup: Setup, images: dict[str, str]) -> None:
    # Pushed from here: the store has their repository digests, but never verified them.
    ran = setup.docker("run", "--rm", images["good"], "echo", "trusted")
    assert ran.stdout == "trusted\n"
    pushed = setup.docker("run", "--rm", images["pushed"], "true", check=False)
    assert pushed.returncode == 125
    assert _refused(setup, images["pushed"], "no signature exists") in pushed.stderr
    # Loaded and tagged here: there is no digest to look signatures up by.
    local = f"{setup.registry}/signed/local:1"
    setup.docker("tag", images["good"], local)
    refused = setup.docker("run", "--rm", local, "true", check=False)
    assert refused.returncode == 125
    assert _refused(setup, local, "it has no repository digest") in refused.stderr
    assert setup.docker("create", local, check=False).returncode != 0
    # The image itself is fine under a name outside the policy.
    assert setup.docker("run", "--rm", "busybox:latest", "echo", "ok").stdout == "ok\n"


def test_signed_image_pulls_and_runs(setup: Setup, images: dict[str, str]) -> None:
    reference = images["pulled"]
    setup.docker("rmi", reference)
    pulled = setup.docker("pull", reference)
    assert f"Status: Downloaded newer image for {reference}" in pulled.stdout
    assert setup.docker("run", "--rm", reference, "echo", "signed").stdout == "signed\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("unsigned", "no signature exists"),
        ("stranger", "none is valid (1 signature checked: not signed by a trusted key)"),
    ],
)
def test_refused_pulls_leave_nothing(
    setup: Setup, images: dict[str, str], name: str, reason: str
) -> None:
    reference = images[name]
    inspect = json.loads(setup.docker("image", "inspect", reference).stdout)[0]
    image_id, layers = inspect["Id"], inspect["RootFS"]["Layers"]
    setup.docker("rmi", reference)
    blobs = setup.engine.data_root / "content" / "blobs" / "sha256"
    assert not any((blobs / layer.removeprefix("sha256:")).exists() for layer in layers)
    snapshots = sorted(os.listdir(setup.engine.data_root / "snapshots"))

    refused = setup.docker("pull", reference, check=False)
    assert refused.returncode == 1
    assert f"Error response from daemon: {_refused(setup, reference, reason)}" in refused.stderr
    listed = setup.docker("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}")
    assert image_id not in listed.stdout and f"/signed/{name}" not in listed.stdout
    assert setup.docker("image", "inspect", reference, check=False).returncode != 0
    assert not any((blobs / layer.removeprefix("sha256:")).exists() for layer in layers)
    assert sorted(os.listdir(setup.engine.data_root / "snapshots")) == snapshots
    assert setup.docker("run", "--rm", reference, "true", check=False).returncode == 125


def test_images_outside_the_policy_are_unaffected(setup: Setup, images: dict[str, str]) -> None:
    reference = images["open"]
    setup.docker("rmi", reference)
    assert "Status: " in setup.docker("pull", reference).stdout
    assert setup.docker("run", "--rm", reference, "echo", "open").stdout == "open\n"


# -- registry logins ------------------------------------------------------------------------


@pytest.mark.skipif(not registry_available(with_logins=True), reason="htpasswd is needed")
def test_sign_and_verify_with_the_docker_login(
    setup: Setup, tmp_path: Path, test_image: TestImage
) -> None:
    with docker_registry(tmp_path, (USER, PASSWORD)) as address:
        logged_in = _config_dir(tmp_path / "logged-in")
        docker = DockerCLI(setup.engine.host, logged_in, setup.engine.last_error)
        docker("login", address, "-u", USER, "--password-stdin", input=PASSWORD.encode())
        reference = f"{address}/team/app:1"
        docker("tag", test_image.repo_tag, reference)
        docker("push", reference)
        key, public = str(setup.keys / "release.key"), str(setup.keys / "release.pub")

        nobody = _config_dir(tmp_path / "anonymous")
        anonymous = setup.doca("trust", "sign", "--key", key, reference, config_dir=nobody)
        assert anonymous.returncode == 1
        assert "Error: " in anonymous.stderr

        signed = setup.doca("trust", "sign", "--key", key, reference, config_dir=logged_in)
        assert signed.returncode == 0, signed.stderr
        assert f"Pushing signature to: {address}/team/app:sha256-" in signed.stdout
        verified = setup.doca("trust", "verify", "--key", public, reference, config_dir=logged_in)
        assert verified.returncode == 0, verified.stderr
        docker("logout", address)
