"""The offline busybox test image is complete, well-formed and byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.testimage import (
    BUSYBOX,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER,
    MEDIA_TYPE_MANIFEST,
    TestImage,
    build_layer_tar,
    build_save_tar,
    build_test_image,
    normalize_reference,
)

pytestmark = pytest.mark.skipif(
    not BUSYBOX.exists(), reason="busybox-static is not installed (/bin/busybox)"
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _members(path: Path) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    out: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
    with tarfile.open(path) as tar:
        for info in tar.getmembers():
            f = tar.extractfile(info) if info.isfile() else None
            out[info.name.rstrip("/")] = (info, f.read() if f else None)
    return out


def _blob(members: dict[str, tuple[tarfile.TarInfo, bytes | None]], ref: str) -> bytes:
    data = members[ref][1]
    assert data is not None
    return data


def _json(members: dict[str, tuple[tarfile.TarInfo, bytes | None]], name: str) -> Any:
    return json.loads(_blob(members, name))


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = build_test_image(tmp_path / "a")
    b = build_test_image(tmp_path / "b")
    assert a.rootfs_tar.read_bytes() == b.rootfs_tar.read_bytes()
    assert a.save_tar.read_bytes() == b.save_tar.read_bytes()
    assert a.image_id == b.image_id
    assert a.diff_ids == b.diff_ids


def test_cached_build_is_reused_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    first = build_test_image(tmp_path)
    mtime = first.save_tar.stat().st_mtime_ns
    assert build_test_image(tmp_path) == first
    assert first.save_tar.stat().st_mtime_ns == mtime

    first.save_tar.write_bytes(first.save_tar.read_bytes()[:1000])  # a truncated build
    again = build_test_image(tmp_path)
    assert again == first
    assert _members(again.save_tar)  # complete and readable again


def test_archives_are_normalised(test_image: TestImage) -> None:
    for path in (test_image.rootfs_tar, test_image.save_tar):
        with tarfile.open(path) as tar:
            infos = tar.getmembers()
        names = [i.name.rstrip("/") for i in infos]
        assert names == sorted(names, key=lambda n: n.split("/"))
        seen: set[str] = set()
        for info in infos:
            name = info.name.rstrip("/")
            parent = name.rpartition("/")[0]
            assert not parent or parent in seen, f"{name} precedes its directory"
            seen.add(name)
            assert info.mtime in (0, 1704067200)
            assert (info.uname, info.gname) == ("", "")


def test_save_tar_layout(test_image: TestImage) -> None:
    members = _members(test_image.save_tar)
    assert _json(members, "oci-layout") == {"imageLayoutVersion": "1.0.0"}

    manifest = _json(members, "manifest.json")
    assert len(manifest) == 1
    entry = manifest[0]
    assert entry["RepoTags"] == ["busybox:latest"] == [test_image.repo_tag]
    assert entry["Config"] == "blobs/sha256/" + test_image.image_id.removeprefix("sha256:")
    assert entry["Layers"] == [
        "blobs/sha256/" + d.removeprefix("sha256:") for d in test_image.diff_ids
    ]

    index = _json(members, "index.json")
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == MEDIA_TYPE_INDEX
    [desc] = index["manifests"]
    assert desc["mediaType"] == MEDIA_TYPE_MANIFEST
    assert desc["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    oci_manifest_bytes = _blob(members, "blobs/sha256/" + desc["digest"].removeprefix("sha256:"))
    assert desc["digest"] == "sha256:" + _sha256(oci_manifest_bytes)
    assert desc["size"] == len(oci_manifest_bytes)

    oci_manifest = json.loads(oci_manifest_bytes)
    assert oci_manifest["schemaVersion"] == 2
    assert oci_manifest["mediaType"] == MEDIA_TYPE_MANIFEST
    assert oci_manifest["config"]["mediaType"] == MEDIA_TYPE_CONFIG
    assert oci_manifest["config"]["digest"] == test_image.image_id
    assert [layer["mediaType"] for layer in oci_manifest["layers"]] == [MEDIA_TYPE_LAYER]
    assert [layer["digest"] for layer in oci_manifest["layers"]] == test_image.diff_ids
    layer = _blob(members, entry["Layers"][0])
    assert oci_manifest["layers"][0]["size"] == len(layer)


def test_ids_are_digests_of_blobs(test_image: TestImage) -> None:
    members = _members(test_image.save_tar)
    [entry] = _json(members, "manifest.json")
    config_bytes = _blob(members, entry["Config"])
    assert test_image.image_id == "sha256:" + _sha256(config_bytes)

    [layer_ref] = entry["Layers"]
    layer = _blob(members, layer_ref)
    assert test_image.diff_ids == ["sha256:" + _sha256(layer)]
    assert layer == test_image.rootfs_tar.read_bytes()

    # every blob is named after its content
    for name, (info, data) in members.items():
        if name.startswith("blobs/sha256/") and info.isfile():
            assert name == "blobs/sha256/" + _sha256(data or b"")


def test_image_config(test_image: TestImage) -> None:
    members = _members(test_image.save_tar)
    [entry] = _json(members, "manifest.json")
    config_bytes = _blob(members, entry["Config"])
    config = json.loads(config_bytes)
    # compact, sorted serialisation
    assert config_bytes == json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    assert config["os"] == "linux"
    assert config["architecture"] in {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}
    assert config["config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in config["config"]["Env"])
    assert config["rootfs"] == {"type": "layers", "diff_ids": test_image.diff_ids}
    non_empty = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(non_empty) == len(test_image.diff_ids)


def test_rootfs_contents(test_image: TestImage) -> None:
    members = _members(test_image.rootfs_tar)

    busybox, data = members["bin/busybox"]
    assert busybox.isfile()
    assert busybox.mode == 0o755
    assert data == BUSYBOX.read_bytes()

    sh, _ = members["bin/sh"]
    assert sh.issym() and sh.linkname == "/bin/busybox"
    for applet in ("usr/bin/env", "bin/ls", "bin/cat"):
        assert members[applet][0].linkname == "/bin/busybox"

    tmp, _ = members["tmp"]
    assert tmp.isdir() and tmp.mode == 0o1777
    root, _ = members["root"]
    assert root.isdir() and root.mode == 0o700
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "home", "var", "proc", "sys", "dev"):
        assert members[d][0].isdir(), d
    home_app, _ = members["home/app"]
    assert home_app.isdir() and (home_app.uid, home_app.gid) == (1000, 1000)

    passwd = (members["etc/passwd"][1] or b"").decode().splitlines()
    assert "root:x:0:0:root:/root:/bin/sh" in passwd
    assert "app:x:1000:1000::/home/app:/bin/sh" in passwd
    assert "nobody:x:65534:65534:nobody:/home:/bin/false" in passwd
    group = (members["etc/group"][1] or b"").decode().splitlines()
    assert {"root:x:0:", "nogroup:x:65534:", "app:x:1000:"} <= set(group)

    for name, (info, _) in members.items():
        if name not in ("home/app",):
            assert (info.uid, info.gid) == (0, 0), name


def test_extracted_busybox_runs(test_image: TestImage, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    with tarfile.open(test_image.rootfs_tar) as tar:
        tar.extractall(rootfs, filter="tar")
    assert (rootfs / "bin/sh").is_symlink()
    result = subprocess.run(
        [str(rootfs / "bin/busybox"), "echo", "hi"], capture_output=True, text=True, check=True
    )
    assert result.stdout == "hi\n"


def test_extra_layers_and_overrides(test_image: TestImage, tmp_path: Path) -> None:
    layer = build_layer_tar(
        tmp_path / "layer.tar",
        {"etc/motd": b"hello\n"},
        whiteouts=["etc/group"],
        opaque_dirs=["home/app"],
    )
    with tarfile.open(layer) as tar:
        names = [i.name.rstrip("/") for i in tar.getmembers()]
    assert names == [
        "etc",
        "etc/.wh.group",
        "etc/motd",
        "home",
        "home/app",
        "home/app/.wh..wh..opq",
    ]

    dest = tmp_path / "multi.tar"
    image_id, diff_ids = build_save_tar(
        dest,
        test_image.rootfs_tar,
        ["example.com/team/multi:v1", "multi"],
        config_overrides={"config": {"Cmd": ["echo", "hi"], "User": "app"}, "author": "tests"},
        extra_layers=[layer],
    )
    assert diff_ids[0] == test_image.diff_ids[0]
    assert diff_ids[1] == "sha256:" + _sha256(layer.read_bytes())
    assert image_id != test_image.image_id

    members = _members(dest)
    [entry] = _json(members, "manifest.json")
    assert entry["RepoTags"] == ["example.com/team/multi:v1", "multi"]
    config = json.loads(_blob(members, entry["Config"]))
    assert image_id == "sha256:" + _sha256(_blob(members, entry["Config"]))
    assert config["config"]["Cmd"] == ["echo", "hi"]
    assert config["config"]["User"] == "app"
    assert config["config"]["Env"]  # merged, not replaced
    assert config["author"] == "tests"
    assert config["rootfs"]["diff_ids"] == diff_ids
    assert len([h for h in config["history"] if not h.get("empty_layer")]) == 2

    index = _json(members, "index.json")
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [
        "example.com/team/multi:v1",
        "docker.io/library/multi:latest",
    ]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("busybox:latest", ("docker.io/library/busybox:latest", "latest")),
        ("busybox", ("docker.io/library/busybox:latest", "latest")),
        ("user/app:1.0", ("docker.io/user/app:1.0", "1.0")),
        ("localhost:5000/app", ("localhost:5000/app:latest", "latest")),
        ("ghcr.io/o/app:x", ("ghcr.io/o/app:x", "x")),
    ],
)
def test_normalize_reference(ref: str, expected: tuple[str, str]) -> None:
    assert normalize_reference(ref) == expected
