"""`doca pull`, `push`, `login` and `logout` against a real doca-engine and Debian's
docker-registry with htpasswd, next to the real docker CLI doing the same."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from doca.cli.registry_commands import Reference, parse_reference, progress_line
from tests.e2e.test_pull_push import PASSWORD, USER, Registry, needs_registry, registry
from tests.support.engine import DockerCLI, EngineProcess
from tests.support.testimage import TestImage

__all__ = ["registry"]  # the fixture, shared with the docker CLI's pull/push tests

DOCA = Path(sys.executable).with_name("doca")
HEX_ID = re.compile(r"\b[0-9a-f]{12}\b")
FAKE_HELPER = """#!/usr/bin/env python3
import json, os, sys
db = os.environ["FAKE_HELPER_DB"]
data = json.load(open(db)) if os.path.exists(db) else {}
action, text = sys.argv[1], sys.stdin.read()
with open(db + ".log", "a") as log:
    log.write(action + "\\n")
if action == "store":
    entry = json.loads(text)
    data[entry["ServerURL"]] = {"Username": entry["Username"], "Secret": entry["Secret"]}
elif action in ("get", "erase"):
    key = text.strip()
    if key not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    if action == "get":
        print(json.dumps({"ServerURL": key, **data[key]}))
    else:
        del data[key]
json.dump(data, open(db, "w"))
"""


# -- pure translators -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", Reference("docker.io", "library/busybox")),
        ("busybox:1.36", Reference("docker.io", "library/busybox", "1.36")),
        ("me/app", Reference("docker.io", "me/app")),
        ("index.docker.io/me/app:v1", Reference("docker.io", "me/app", "v1")),
        ("localhost/app", Reference("localhost", "app")),
        ("127.0.0.1:5000/x/busybox:1", Reference("127.0.0.1:5000", "x/busybox", "1")),
        ("r.example/a@sha256:" + "a" * 64, Reference("r.example", "a", "", "sha256:" + "a" * 64)),
    ],
)
def test_parse_reference_normalizes_as_docker(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


def test_reference_strings() -> None:
    hub = parse_reference("busybox:1")
    assert (str(hub), hub.familiar_name) == ("docker.io/library/busybox:1", "busybox")
    assert parse_reference("me/app").familiar_name == "me/app"
    local = parse_reference("127.0.0.1:5000/x/b:1")
    assert (str(local), local.familiar_name) == ("127.0.0.1:5000/x/b:1", "127.0.0.1:5000/x/b")


@pytest.mark.parametrize("text", ["Busybox", "a b", "x/y:", "x@sha256:12", "x/-y", "h:99999x/a"])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid reference format"):
        parse_reference(text)


def test_progress_lines_are_docker_s_non_terminal_display() -> None:
    assert progress_line({"status": "Pulling fs layer", "id": "abc"}) == "abc: Pulling fs layer\n"
    bar = {"status": "Downloading", "id": "abc", "progressDetail": {"current": 5, "total": 9}}
    assert progress_line(bar) is None
    done = {"status": "Download complete", "id": "abc", "progressDetail": {}}
    assert progress_line(done) == "abc: Download complete\n"
    assert progress_line({"aux": {"Tag": "1"}}) is None
    assert progress_line({"status": "Digest: sha256:x"}) == "Digest: sha256:x\n"


# -- against the engine and a registry --------------------------------------------------------


class Clients:
    """doca and the docker CLI sharing one engine and one config dir."""

    def __init__(self, engine: EngineProcess, config_dir: Path, path_prefix: str = "") -> None:
        self.config_dir = config_dir
        self.docker = DockerCLI(engine.host, config_dir, engine.last_error)
        self.path_prefix = path_prefix

    def env(self) -> dict[str, str]:
        env = self.docker.env()
        if self.path_prefix:
            env["PATH"] = self.path_prefix + os.pathsep + env.get("PATH", "")
        return env

    def doca(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DOCA), *args], input=stdin, capture_output=True, text=True,
            env=self.env(), timeout=120,
        )  # fmt: skip

    def config(self) -> dict[str, object]:
        return dict(json.loads((self.config_dir / "config.json").read_text()))


def _config_dir(root: Path, extra: dict[str, object]) -> Path:
    """A config dir of its own; an auths entry keeps the CLI from picking the desktop's
    default credential helper (secretservice needs D-Bus)."""
    root.mkdir(parents=True)
    data = {"auths": {"placeholder.invalid": {}}, "psFormat": "{{.ID}}", **extra}
    (root / "config.json").write_text(json.dumps(data))
    return root


def _shape(output: str) -> list[str]:
    """Output lines with layer IDs and digests blanked: what must match between the CLIs."""
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<digest>", output)
    return HEX_ID.sub("<id>", text).splitlines()


def _login(clients: Clients, address: str, password: str) -> subprocess.CompletedProcess[str]:
    return clients.doca("login", "-u", USER, "--password-stdin", address, stdin=password + "\n")


@pytest.fixture
def loaded(engine: EngineProcess, test_image: TestImage, tmp_path: Path) -> TestImage:
    DockerCLI(engine.host, _config_dir(tmp_path / "load", {}))(
        "load", "-i", str(test_image.save_tar)
    )
    return test_image


@needs_registry
@pytest.mark.e2e
def test_plaintext_login_push_pull_logout(
    engine: EngineProcess, registry: Registry, loaded: TestImage, tmp_path: Path
) -> None:
    address = registry.address
    clients = Clients(engine, _config_dir(tmp_path / "doca", {}))
    docker_only = Clients(engine, _config_dir(tmp_path / "docker", {}))

    wrong = _login(clients, address, "not the password")
    expected = docker_only.docker(
        "login", "-u", USER, "--password-stdin", address, input=b"nope\n", check=False
    )
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr.startswith("Error response from daemon: ")
    assert wrong.stderr == expected.stderr
    assert address not in clients.config()["auths"]  # type: ignore[operator]

    good = _login(clients, address, PASSWORD)
    assert (good.returncode, good.stdout) == (0, "Login Succeeded\n"), good.stderr
    assert f"stored unencrypted in '{clients.config_dir / 'config.json'}'" in good.stderr
    docker_only.docker("login", "-u", USER, "--password-stdin", address, input=PASSWORD.encode())
    # Exactly what `docker login` writes, and the rest of the file kept.
    assert clients.config() == docker_only.config()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert clients.config()["auths"] == {"placeholder.invalid": {}, address: {"auth": token}}
    assert clients.config()["psFormat"] == "{{.ID}}"

    reference = f"{address}/cli/busybox:1"
    clients.docker("tag", loaded.repo_tag, reference)
    pushed = clients.doca("push", reference)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith(f"The push refers to repository [{address}/cli/busybox]\n")
    assert re.search(r"^[0-9a-f]{12}: Pushed$", pushed.stdout, re.M), pushed.stdout
    assert re.search(r"^1: digest: sha256:[0-9a-f]{64} size: \d+$", pushed.stdout, re.M)
    again = clients.doca("push", reference).stdout
    assert _shape(again) == _shape(clients.docker("push", reference).stdout)
    assert "Layer already exists" in again

    clients.docker("rmi", "-f", loaded.image_id)
    pulled = clients.doca("pull", reference)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[0] == "1: Pulling from cli/busybox"
    assert pulled.stdout.endswith(f"Status: Downloaded newer image for {reference}\n{reference}\n")
    clients.docker("rmi", "-f", loaded.image_id)
    assert _shape(pulled.stdout) == _shape(clients.docker("pull", reference).stdout)
    assert json.loads(clients.docker("image", "inspect", reference).stdout)[0]["Id"] == (
        loaded.image_id
    )
    up_to_date = clients.doca("pull", reference).stdout
    assert _shape(up_to_date) == _shape(clients.docker("pull", reference).stdout)
    assert clients.doca("pull", "-q", reference).stdout == f"{reference}\n"

    unknown = clients.doca("pull", f"{address}/cli/busybox:nope")
    expected = clients.docker("pull", f"{address}/cli/busybox:nope", check=False)
    assert (unknown.returncode, unknown.stderr) == (1, expected.stderr)
    assert unknown.stderr.startswith("Error response from daemon: ")

    out = clients.doca("logout", address)
    assert (out.returncode, out.stdout) == (0, f"Removing login credentials for {address}\n")
    assert clients.config()["auths"] == {"placeholder.invalid": {}}
    clients.docker("rmi", "-f", loaded.image_id)
    denied = clients.doca("pull", reference)
    assert denied.returncode == 1
    assert denied.stderr.startswith("Error response from daemon: ")
    assert denied.stderr == clients.docker("pull", reference, check=False).stderr


@needs_registry
@pytest.mark.e2e
def test_login_through_creds_store_helper(
    engine: EngineProcess, registry: Registry, loaded: TestImage, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(FAKE_HELPER)
    helper.chmod(0o755)
    database = tmp_path / "helper.json"
    os.environ["FAKE_HELPER_DB"] = str(database)  # inherited by doca, docker and the helper
    try:
        clients = Clients(
            engine, _config_dir(tmp_path / "cfg", {"credsStore": "fake"}), str(bin_dir)
        )
        address = registry.address
        good = _login(clients, address, PASSWORD)
        assert (good.returncode, good.stdout, good.stderr) == (0, "Login Succeeded\n", "")
        assert json.loads(database.read_text()) == {address: {"Username": USER, "Secret": PASSWORD}}
        config = clients.config()
        assert config["auths"] == {"placeholder.invalid": {}, address: {}}
        assert config["credsStore"] == "fake"

        # The helper's login is what pull and push send.
        reference = f"{address}/helper/busybox:1"
        clients.docker("tag", loaded.repo_tag, reference)
        assert clients.doca("push", reference).returncode == 0
        clients.docker("rmi", reference)
        assert f"Status: Downloaded newer image for {reference}\n" in (
            clients.doca("pull", reference).stdout
        )

        out = clients.doca("logout", address)
        assert (out.returncode, out.stdout, out.stderr) == (
            0, f"Removing login credentials for {address}\n", "",
        )  # fmt: skip
        assert json.loads(database.read_text()) == {}
        assert clients.config()["auths"] == {"placeholder.invalid": {}}
        assert "erase" in (tmp_path / "helper.json.log").read_text().split()
        clients.docker("rmi", reference)
        denied = clients.doca("pull", reference)
        assert denied.returncode == 1
        assert denied.stderr == clients.docker("pull", reference, check=False).stderr
    finally:
        del os.environ["FAKE_HELPER_DB"]
