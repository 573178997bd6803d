"""Hostile and broken input to the image API: clear errors, no partial image, nothing written
outside the data root."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess
from tests.support.testimage import TestImage

pytestmark = pytest.mark.usefixtures("loaded_busybox")


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def save_archive(layers: list[bytes], tags: list[str], diff_ids: list[str] | None = None) -> bytes:
    """A docker-save archive around hand-made layer tars."""
    diff_ids = diff_ids or ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    members = [_file(config_name, config)]
    layer_names = []
    for index, layer in enumerate(layers):
        layer_names.append(f"layer{index}/layer.tar")
        members.append(_file(layer_names[-1], layer))
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]
    members.append(_file("manifest.json", json.dumps(manifest).encode()))
    return _tar(members)


def snapshot_state(engine: EngineProcess) -> tuple[set[str], list[str], list[str]]:
    data = engine.data_root
    return (
        set(os.listdir(data / "snapshots")),
        os.listdir(data / "content" / "ingest"),
        os.listdir(data / "tmp"),
    )


def load(engine: EngineProcess, body: bytes) -> tuple[int, str]:
    resp = engine.request(
        "POST", "/v1.47/images/load?quiet=1", body, {"Content-Type": "application/x-tar"}
    )
    text = resp.body.decode()
    if resp.headers.get("Content-Type") == "application/json" and resp.status != 200:
        return resp.status, json.loads(text)["message"]
    return resp.status, text


def assert_untouched(engine: EngineProcess, docker: DockerCLI, before: tuple) -> None:
    snapshots, ingest, tmp = snapshot_state(engine)
    assert snapshots == before[0]
    assert ingest == [] and tmp == []
    assert "evil" not in docker("images", "--format", "{{.Repository}}").stdout


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    return target


def test_garbage_is_a_400(engine: EngineProcess, docker: DockerCLI) -> None:
    before = snapshot_state(engine)
    status, message = load(engine, b"this is not a tar archive at all" * 100)
    assert status == 400
    assert "invalid tar archive" in message
    assert_untouched(engine, docker, before)


def test_empty_upload_is_a_400(engine: EngineProcess) -> None:
    status, message = load(engine, b"")
    assert status == 400
    assert "invalid" in message


def test_dot_dot_member_in_a_layer(engine: EngineProcess, docker: DockerCLI, outside: Path) -> None:
    before = snapshot_state(engine)
    escape = os.path.relpath(outside / "escaped", "/")
    layer = _tar([_file("../" * 12 + escape, b"pwned")])
    status, message = load(engine, save_archive([layer], ["evil:1"]))
    assert status == 400
    assert "escapes" in message
    assert list(outside.iterdir()) == []
    assert_untouched(engine, docker, before)


def test_write_through_symlink(engine: EngineProcess, docker: DockerCLI, outside: Path) -> None:
    before = snapshot_state(engine)
    layer = _tar([_link("evil", str(outside)), _file("evil/pwned", b"pwned")])
    status, _ = load(engine, save_archive([layer], ["evil:2"]))
    assert status == 400
    assert list(outside.iterdir()) == []
    assert_untouched(engine, docker, before)


def test_hardlink_outside(engine: EngineProcess, docker: DockerCLI, outside: Path) -> None:
    secret = outside / "secret"
    secret.write_text("keep")
    before = snapshot_state(engine)
    layer = _tar([_link("stolen", str(secret), tarfile.LNKTYPE), _file("x", b"")])
    layer2 = _tar([_link("stolen", "../" * 12 + str(secret)[1:], tarfile.LNKTYPE)])
    for bad in (layer, layer2):
        status, _ = load(engine, save_archive([bad], ["evil:3"]))
        assert status == 400
    assert secret.read_text() == "keep" and secret.stat().st_nlink == 1
    assert_untouched(engine, docker, before)


def test_truncated_upload(engine: EngineProcess, docker: DockerCLI, test_image: TestImage) -> None:
    before = snapshot_state(engine)
    data = test_image.save_tar.read_bytes()
    with tarfile.open(test_image.save_tar) as tar:
        last = tar.getmembers()[-1]
        end_of_content = last.offset_data + last.size
    for cut in (len(data) // 3, 2 * len(data) // 3, end_of_content - 5):
        status, message = load(engine, data[:cut])
        assert status in (400, 500)
        assert message
    assert_untouched(engine, docker, before)


def test_layer_not_matching_its_diff_id(engine: EngineProcess, docker: DockerCLI) -> None:
    before = snapshot_state(engine)
    layer = _tar([_file("hello", b"hi")])
    status, message = load(engine, save_archive([layer], ["evil:4"], ["sha256:" + "0" * 64]))
    assert status == 400
    assert "does not match its diff ID" in message
    assert_untouched(engine, docker, before)


def test_manifest_pointing_outside_the_archive(engine: EngineProcess, docker: DockerCLI) -> None:
    manifest = [{"Config": "../../../../etc/passwd", "RepoTags": ["evil:5"], "Layers": []}]
    body = _tar([_file("manifest.json", json.dumps(manifest).encode())])
    status, message = load(engine, body)
    assert status == 400
    assert "missing" in message


def test_manifest_with_wrong_types(engine: EngineProcess) -> None:
    for manifest in ({"Config": 1}, [{"Config": 5}], [{"Config": "c", "Layers": "x"}], "x"):
        body = _tar([_file("manifest.json", json.dumps(manifest).encode())])
        status, message = load(engine, body)
        assert status == 400, manifest
        assert "invalid archive" in message


def test_import_of_a_hostile_rootfs(
    engine: EngineProcess, docker: DockerCLI, outside: Path
) -> None:
    before = snapshot_state(engine)
    layer = _tar([_link("evil", str(outside)), _file("evil/pwned", b"pwned")])
    resp = engine.request("POST", "/images/create?fromSrc=-&repo=evil&tag=6", layer)
    assert resp.status == 400
    assert list(outside.iterdir()) == []
    assert_untouched(engine, docker, before)


def test_bad_names_and_unknown_images(engine: EngineProcess) -> None:
    resp = engine.request("POST", "/images/busybox/tag?repo=Bad&tag=1")
    assert resp.status == 400
    assert "must be lowercase" in json.loads(resp.body)["message"]
    resp = engine.request("POST", "/images/busybox/tag?repo=ok&tag=bad%20tag")
    assert resp.status == 400
    resp = engine.request("DELETE", "/images/no-such-image")
    assert resp.status == 404
    assert json.loads(resp.body)["message"] == "No such image: no-such-image:latest"
    resp = engine.request("GET", "/images/no-such-image/json")
    assert resp.status == 404
    resp = engine.request("GET", "/images/get?names=no-such-image")
    assert resp.status == 404
    resp = engine.request("POST", "/images/create?fromSrc=http://example.invalid/x.tar")
    assert resp.status == 400
