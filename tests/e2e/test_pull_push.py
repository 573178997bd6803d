"""docker pull / push / login against a real doca-engine and real registries on loopback.

Registries: Debian's ``docker-registry`` with htpasswd, ``doca registry serve``, and small
aiohttp fakes that misbehave on purpose (a blob with the wrong bytes, a slow blob).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import re
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker as docker_py
import pytest
from aiohttp import web

from engine.images.load import host_arch
from engine.registry import mediatypes
from engine.registry.auth import Credentials
from engine.registry.client import RegistryClient
from engine.registry.endpoints import lookup_endpoints
from tests.e2e.test_registry_server import RegistryProcess
from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DOCKER, DockerCLI, EngineProcess, short_root
from tests.support.registry import docker_registry, registry_available
from tests.support.testimage import TestImage

USER, PASSWORD = "tester", "s3cret-pass"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(DOCKER).exists(), reason=f"the docker CLI ({DOCKER}) is missing"),
]
needs_registry = pytest.mark.skipif(
    not registry_available(with_logins=True),
    reason="docker-registry (docker-registry) and htpasswd (apache2-utils) are needed",
)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _cli(host: str, config_dir: Path) -> DockerCLI:
    """A docker CLI whose logins go to its own config.json: an entry in ``auths`` keeps it
    from picking a desktop credential helper (secretservice needs D-Bus)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {"placeholder.invalid": {}}}))
    return DockerCLI(host, config_dir)


def _image_id(cli: DockerCLI, reference: str) -> str:
    return str(json.loads(cli("image", "inspect", reference).stdout)[0]["Id"])


def _remove_all(cli: DockerCLI) -> None:
    ids = cli("images", "-aq", "--no-trunc").stdout.split()
    if ids:
        cli("rmi", "-f", *sorted(set(ids)))


# -- Debian's docker-registry with htpasswd -------------------------------------------------


@dataclass
class Registry:
    address: str
    root: Path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not registry_available(with_logins=True):
        pytest.skip("docker-registry and htpasswd are needed")
    root = tmp_path_factory.mktemp("registry")
    with docker_registry(root, (USER, PASSWORD)) as address:
        yield Registry(address, root)


@pytest.fixture(scope="module")
def cli(engine: EngineProcess, test_image: TestImage) -> DockerCLI:
    docker = _cli(engine.host, engine.root / "pull-push-config")
    docker("load", "-i", str(test_image.save_tar))
    return docker


def _login(
    cli: DockerCLI, address: str, password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    return cli(
        "login", address, "-u", USER, "--password-stdin", input=password.encode(), check=False
    )


@needs_registry
def test_login_push_pull_logout(cli: DockerCLI, registry: Registry, test_image: TestImage) -> None:
    wrong = _login(cli, registry.address, "not the password")
    assert wrong.returncode != 0
    assert "unauthorized" in wrong.stderr.lower()

    anonymous = cli("push", f"{registry.address}/x/busybox:0", check=False)
    assert anonymous.returncode != 0

    login = _login(cli, registry.address)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout

    reference = f"{registry.address}/x/busybox:1"
    cli("tag", test_image.repo_tag, reference)
    pushed = cli("push", reference).stdout
    assert "The push refers to repository" in pushed
    assert re.search(r"[0-9a-f]{12}: Pushed", pushed), pushed
    match = re.search(r"1: digest: (sha256:[0-9a-f]{64}) size: \d+", pushed)
    assert match is not None, pushed
    digest = match[1]

    again = cli("push", reference).stdout
    assert "Layer already exists" in again and digest in again
    other = cli("push", _tagged(cli, test_image, f"{registry.address}/y/busybox:1")).stdout
    assert "Mounted from x/busybox" in other, other

    cli("rmi", "-f", test_image.image_id)
    assert cli("image", "inspect", reference, check=False).returncode != 0
    pulled = cli("pull", reference).stdout
    assert "1: Pulling from x/busybox" in pulled
    assert "Pull complete" in pulled
    assert f"Digest: {digest}" in pulled
    assert f"Status: Downloaded newer image for {reference}" in pulled
    assert _image_id(cli, reference) == test_image.image_id
    inspect = json.loads(cli("image", "inspect", reference).stdout)[0]
    assert f"{registry.address}/x/busybox@{digest}" in inspect["RepoDigests"]

    up_to_date = cli("pull", reference).stdout
    assert "Already exists" in up_to_date
    assert f"Status: Image is up to date for {reference}" in up_to_date
    by_digest = cli("pull", f"{registry.address}/x/busybox@{digest}").stdout
    assert f"Digest: {digest}" in by_digest
    assert cli("run", "--rm", reference, "echo", "pulled").stdout == "pulled\n"

    # As dockerd: the repository's last tag takes its digest references with it.
    cli("tag", reference, f"{registry.address}/x/busybox:other")
    assert cli("rmi", reference).stdout == f"Untagged: {reference}\n"
    removed = cli("rmi", f"{registry.address}/x/busybox:other").stdout.splitlines()
    assert removed == [
        f"Untagged: {registry.address}/x/busybox:other",
        f"Untagged: {registry.address}/x/busybox@{digest}",
        f"Deleted: {test_image.image_id}",
    ]
    assert "Pull complete" in cli("pull", reference).stdout

    unknown = cli("pull", f"{registry.address}/x/busybox:nope", check=False)
    assert unknown.returncode != 0
    assert (
        f"manifest for {registry.address}/x/busybox:nope not found: "
        "manifest unknown: manifest unknown"
    ) in unknown.stderr

    cli("logout", registry.address)
    cli("rmi", "-f", test_image.image_id)
    denied = cli("pull", reference, check=False)
    assert denied.returncode != 0
    assert "unauthorized" in denied.stderr.lower() or "no basic auth" in denied.stderr
    cli("load", "-i", str(test_image.save_tar))


def _tagged(cli: DockerCLI, image: TestImage, reference: str) -> str:
    cli("tag", image.repo_tag, reference)
    return reference


@needs_registry
def test_push_of_missing_image_and_all_tags(
    cli: DockerCLI, registry: Registry, test_image: TestImage
) -> None:
    missing = cli("push", f"{registry.address}/nothing/here:1", check=False)
    assert missing.returncode != 0
    assert (
        f"An image does not exist locally with the tag: {registry.address}/nothing/here"
        in missing.stderr
    )
    assert _login(cli, registry.address).returncode == 0
    try:
        for tag in ("a", "b"):
            cli("tag", test_image.repo_tag, f"{registry.address}/many/busybox:{tag}")
        result = cli("push", "--all-tags", f"{registry.address}/many/busybox").stdout
        assert re.search(r"^a: digest: sha256:", result, re.M), result
        assert re.search(r"^b: digest: sha256:", result, re.M), result
    finally:
        cli("logout", registry.address)


@needs_registry
def test_docker_py_pull_and_push(
    engine: EngineProcess, cli: DockerCLI, registry: Registry, test_image: TestImage
) -> None:
    auth = {"username": USER, "password": PASSWORD}
    client = docker_py.DockerClient(base_url=engine.host, version="1.45")
    try:
        repository = f"{registry.address}/py/busybox"
        client.images.get(test_image.repo_tag).tag(repository, "v1")
        lines = [
            json.loads(line)
            for line in client.images.push(repository, "v1", auth_config=auth).splitlines()
            if line.strip()
        ]
        assert not [line for line in lines if "error" in line], lines
        aux = [line["aux"] for line in lines if "aux" in line]
        assert aux and aux[0]["Tag"] == "v1" and aux[0]["Digest"].startswith("sha256:")
        client.images.remove(f"{repository}:v1")
        image = client.images.pull(repository, tag="v1", auth_config=auth)
        assert image.id == test_image.image_id
        assert any(d.startswith(f"{repository}@sha256:") for d in image.attrs["RepoDigests"])
    finally:
        client.close()


# -- doca registry serve --------------------------------------------------------------------


@pytest.fixture
def doca_registry() -> Iterator[RegistryProcess]:
    root = short_root()
    process = RegistryProcess(root)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_push_and_pull_with_doca_registry(
    cli: DockerCLI, doca_registry: RegistryProcess, test_image: TestImage
) -> None:
    reference = f"{doca_registry.address}/e2e/busybox:v1"
    cli("tag", test_image.repo_tag, reference)
    assert "v1: digest: sha256:" in cli("push", reference).stdout
    assert doca_registry.get_json("/v2/e2e/busybox/tags/list") == {
        "name": "e2e/busybox",
        "tags": ["v1"],
    }
    cli("rmi", "-f", test_image.image_id)
    pulled = cli("pull", reference).stdout
    assert "Pull complete" in pulled
    assert _image_id(cli, reference) == test_image.image_id
    cli("tag", reference, test_image.repo_tag)


def _tiny_layer(name: str) -> tuple[bytes, bytes]:
    """(gzip blob, uncompressed tar) of a layer holding one file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = f"{name}\n".encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return gzip.compress(raw, mtime=0), raw


def _config(arch: str, diff_ids: list[str]) -> bytes:
    return json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()


def _manifest(config: bytes, layers: list[bytes], media_type: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": mediatypes.DOCKER_CONFIG,
                "size": len(config),
                "digest": _digest(config),
            },
            "layers": [
                {"mediaType": mediatypes.DOCKER_LAYER, "size": len(b), "digest": _digest(b)}
                for b in layers
            ],
        }
    ).encode()


async def _push_index(address: str, amd64_digest: str, amd64_size: int) -> bytes:
    """Push a fake arm64 image and an OCI index of it and the given amd64 manifest."""
    blob, raw = _tiny_layer("arm64-only")
    config = _config("arm64", [_digest(raw)])
    manifest = _manifest(config, [blob], mediatypes.DOCKER_MANIFEST)
    async with RegistryClient(lookup_endpoints(address)[-1], Credentials()) as client:
        for data in (blob, config):
            await client.upload_blob("multi/busybox", _digest(data), len(data), _chunks(data))
        arm64 = await client.put_manifest(
            "multi/busybox", _digest(manifest), mediatypes.DOCKER_MANIFEST, manifest
        )
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": mediatypes.DOCKER_MANIFEST,
                        "digest": arm64,
                        "size": len(manifest),
                        "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                    },
                    {
                        "mediaType": mediatypes.DOCKER_MANIFEST,
                        "digest": amd64_digest,
                        "size": amd64_size,
                        "platform": {"os": "linux", "architecture": "amd64"},
                    },
                ],
            }
        ).encode()
        await client.put_manifest("multi/busybox", "multi", mediatypes.OCI_INDEX, index)
    return config


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    yield data


@pytest.mark.skipif(host_arch() != "amd64", reason="the index's runnable entry is amd64")
def test_multi_platform_index_pulls_the_host_platform(
    cli: DockerCLI, doca_registry: RegistryProcess, test_image: TestImage
) -> None:
    amd64 = f"{doca_registry.address}/multi/busybox:amd64"
    cli("tag", test_image.repo_tag, amd64)
    pushed = cli("push", amd64).stdout
    match = re.search(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)", pushed)
    assert match is not None
    arm64_config = asyncio.run(_push_index(doca_registry.address, match[1], int(match[2])))

    multi = f"{doca_registry.address}/multi/busybox:multi"
    pulled = cli("pull", multi).stdout
    assert "multi: Pulling from multi/busybox" in pulled
    assert _image_id(cli, multi) == test_image.image_id

    arm = cli("pull", "--platform", "linux/arm64", f"{doca_registry.address}/multi/busybox:multi")
    assert "Pull complete" in arm.stdout
    inspect = json.loads(cli("image", "inspect", multi).stdout)[0]
    assert inspect["Id"] == _digest(arm64_config)
    assert inspect["Architecture"] == "arm64"
    cli("rmi", multi, amd64)


# -- misbehaving registries -----------------------------------------------------------------


@dataclass
class FakeRegistry:
    """Serves fixed manifests and blobs; a blob may be slow (bytes per 50 ms)."""

    manifests: dict[str, bytes] = field(default_factory=dict)  # "repo:ref" → manifest
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest → served bytes
    slow: dict[str, int] = field(default_factory=dict)
    gets: list[tuple[str, str]] = field(default_factory=list)  # (digest, Range header)
    sent: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def add_image(self, repo: str, tag: str, config: bytes, layers: list[bytes]) -> bytes:
        manifest = _manifest(config, layers, mediatypes.DOCKER_MANIFEST)
        for blob in (config, *layers):
            self.blobs[_digest(blob)] = blob
        self.manifests[f"{repo}:{tag}"] = manifest
        return manifest

    async def manifest(self, request: web.Request) -> web.Response:
        key = f"{request.match_info['repo']}:{request.match_info['ref']}"
        body = self.manifests.get(key)
        if body is None:
            error = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
            return web.json_response(error, status=404)
        headers = {
            "Content-Type": mediatypes.DOCKER_MANIFEST,
            "Docker-Content-Digest": _digest(body),
        }
        return web.Response(body=body if request.method == "GET" else None, headers=headers)

    async def blob(self, request: web.Request) -> web.StreamResponse:
        digest = request.match_info["digest"]
        data = self.blobs.get(digest)
        if data is None:
            return web.json_response(
                {"errors": [{"code": "BLOB_UNKNOWN", "message": "x"}]}, status=404
            )
        ranged = request.headers.get("Range", "")
        self.gets.append((digest, ranged))
        start = int(ranged.removeprefix("bytes=").split("-")[0]) if ranged else 0
        if start >= len(data) and start:
            return web.Response(status=416)
        response = web.StreamResponse(status=206 if start else 200)
        response.content_length = len(data) - start
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await response.prepare(request)
        step = self.slow.get(digest) or len(data)
        for offset in range(start, len(data), step):
            await response.write(data[offset : offset + step])
            self.sent[digest] = offset + len(data[offset : offset + step])
            if digest in self.slow:
                await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/v2/", fake.ping)
    app.router.add_route("*", "/v2/{repo:.+}/manifests/{ref}", fake.manifest)
    app.router.add_route("*", "/v2/{repo:.+}/blobs/{digest}", fake.blob)
    runner = web.AppRunner(app, shutdown_timeout=1)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    fake.port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def _blob_files(engine: EngineProcess) -> set[str]:
    return {p.name for p in (engine.data_root / "content" / "blobs" / "sha256").iterdir()}


def test_blob_with_wrong_digest_is_refused_and_nothing_stored(
    engine: EngineProcess, cli: DockerCLI, fake_registry: FakeRegistry
) -> None:
    good, good_raw = _tiny_layer("good")
    bad, bad_raw = _tiny_layer("bad")
    config = _config(host_arch(), [_digest(good_raw), _digest(bad_raw)])
    fake_registry.add_image("x/bad", "1", config, [good, bad])
    fake_registry.blobs[_digest(bad)] = bad[:-8] + b"tampered"  # same size, other bytes
    before = _blob_files(engine)

    result = cli("pull", f"127.0.0.1:{fake_registry.port}/x/bad:1", check=False)
    assert result.returncode != 0
    assert "digest mismatch" in result.stderr + result.stdout
    assert cli(
        "image", "inspect", f"127.0.0.1:{fake_registry.port}/x/bad:1", check=False
    ).returncode
    assert _blob_files(engine) == before
    downloads = engine.data_root / "distribution" / "downloads"
    assert not (downloads / _digest(bad).replace(":", "-")).exists()


def test_engine_killed_mid_pull_leaves_no_half_image(
    test_image: TestImage, fake_registry: FakeRegistry
) -> None:
    small, small_raw = _tiny_layer("small")
    big_raw = tarfile_with_noise(3 << 20)
    big = gzip.compress(big_raw, compresslevel=0, mtime=0)
    config = _config(host_arch(), [_digest(small_raw), _digest(big_raw)])
    fake_registry.add_image("x/slow", "1", config, [small, big])
    fake_registry.slow[_digest(big)] = 64 * 1024  # ~1.3 MB/s: about 2.5 s in all
    reference = f"127.0.0.1:{fake_registry.port}/x/slow:1"

    root = short_root()
    engine = EngineProcess(root)
    engine.start()
    try:
        cli = _cli(engine.host, root / "config")
        pulling = subprocess.Popen(
            [DOCKER, "pull", reference],
            env=cli.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while fake_registry.sent.get(_digest(big), 0) < len(big) * 3 // 4:
            assert time.monotonic() < deadline, "the slow blob never got going"
            time.sleep(0.02)
        assert fake_registry.sent.get(_digest(small)) == len(small)
        engine.stop(signal.SIGKILL)
        pulling.communicate(timeout=30)
        assert pulling.returncode != 0

        engine.start()
        assert cli("images", "-aq").stdout.strip() == ""
        fake_registry.slow.clear()
        result = cli("pull", reference)
        assert "Pull complete" in result.stdout
        assert json.loads(cli("image", "inspect", reference).stdout)[0]["Id"] == _digest(config)
        small_gets = [r for d, r in fake_registry.gets if d == _digest(small)]
        big_gets = [r for d, r in fake_registry.gets if d == _digest(big)]
        assert len(small_gets) == 1, "the finished layer was downloaded again"
        assert big_gets[0] == "" and big_gets[-1].startswith("bytes=")
        assert int(big_gets[-1].removeprefix("bytes=").rstrip("-")) > 0
    finally:
        engine.stop()
        engine.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def tarfile_with_noise(size: int) -> bytes:
    """A layer tar of one file of incompressible bytes (a slow download must stay slow)."""
    data = hashlib.shake_256(b"doca").digest(size)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("noise")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# -- mirrors and engine options ---------------------------------------------------------------


def test_registry_mirror_serves_docker_hub_pulls(
    test_image: TestImage, doca_registry: RegistryProcess
) -> None:
    root = short_root()
    mirror = f"http://{doca_registry.address}"
    engine = EngineProcess(
        root, ["--registry-mirror", mirror, "--insecure-registry", "10.99.0.0/16"]
    )
    engine.start()
    try:
        cli = _cli(engine.host, root / "config")
        cli("load", "-i", str(test_image.save_tar))
        # What the mirror holds for Docker Hub's library/busybox.
        cli("tag", test_image.repo_tag, f"{doca_registry.address}/library/busybox:mirrored")
        cli("push", f"{doca_registry.address}/library/busybox:mirrored")
        _remove_all(cli)

        pulled = cli("pull", "busybox:mirrored").stdout
        assert "mirrored: Pulling from library/busybox" in pulled
        assert "Status: Downloaded newer image for busybox:mirrored" in pulled
        assert _image_id(cli, "busybox:mirrored") == test_image.image_id

        info = json.loads(cli("info", "--format", "{{json .RegistryConfig}}").stdout)
        assert info["Mirrors"] == [mirror + "/"]
        assert "10.99.0.0/16" in info["InsecureRegistryCIDRs"]
    finally:
        engine.stop()
        engine.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@needs_registry
def test_search_lists_a_registry_catalog(
    cli: DockerCLI, registry: Registry, test_image: TestImage
) -> None:
    assert _login(cli, registry.address).returncode == 0
    try:
        for name in ("srch/needle-one", "srch/other", "tools/needle-two"):
            cli("push", _tagged(cli, test_image, f"{registry.address}/{name}:1"))
        found = cli(
            "search", "--format", "{{.Name}} {{.StarCount}}", f"{registry.address}/needle"
        ).stdout.split("\n")
        assert found[:-1] == [
            f"{registry.address}/srch/needle-one 0",
            f"{registry.address}/tools/needle-two 0",
        ]
        limited = cli("search", "--limit", "1", "--format", "{{.Name}}", f"{registry.address}/")
        assert len(limited.stdout.split()) == 1
        bad = cli("search", "--limit", "500", f"{registry.address}/busy", check=False)
        assert bad.returncode == 1 and "outside the range" in bad.stderr
    finally:
        cli("logout", registry.address)


@needs_registry
@pytest.mark.skipif(
    not dockerd_available(), reason="Debian's dockerd (package docker.io) is not installed"
)
def test_dockerd_pulls_what_doca_pushed(
    cli: DockerCLI, registry: Registry, test_image: TestImage
) -> None:
    """The other direction of interoperability: dockerd runs an image Doca pushed."""
    root = short_root()
    daemon = Dockerd(root)
    other = _cli(daemon.host, root / "config")
    daemon.start(lambda: other("version", check=False).returncode == 0)
    try:
        assert _login(cli, registry.address).returncode == 0
        reference = _tagged(cli, test_image, f"{registry.address}/interop/busybox:1")
        pushed = cli("push", reference).stdout
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", pushed)
        assert digest is not None, pushed
        assert _login(other, registry.address).returncode == 0
        pulled = other("pull", reference).stdout
        assert f"Digest: {digest[1]}" in pulled
        assert _image_id(other, reference) == test_image.image_id
        assert other("run", "--rm", "--network", "none", reference, "echo", "from doca").stdout == (
            "from doca\n"
        )
    finally:
        cli("logout", registry.address, check=False)
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
