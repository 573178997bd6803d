"""Tests for reading ``docker save`` archives in both layouts."""

import gzip
import hashlib
import io
import tarfile
from typing import Any

import orjson
import pytest

from engine.images.archive import ArchiveError, ImageArchive, decompressed, open_archive

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = b"layer tar bytes"


def _tar(members: dict[str, bytes], *, gz: bool = False) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _images(members: dict[str, bytes], arch: str = "amd64") -> list[Any]:
    with open_archive(_tar(members)) as archive:
        return archive.images(arch)


def _blob(data: bytes) -> tuple[str, str]:
    """The digest of ``data`` and its path in an OCI layout."""
    hex_ = hashlib.sha256(data).hexdigest()
    return f"sha256:{hex_}", f"blobs/sha256/{hex_}"


def _descriptor(data: bytes, **extra: Any) -> dict[str, Any]:
    return {"digest": _blob(data)[0], "size": len(data), **extra}


def test_docker_manifest_layout() -> None:
    manifest = [
        {"Config": "abc.json", "RepoTags": ["busybox:latest"], "Layers": ["l1/layer.tar"]},
        {"Config": "def.json"},
    ]
    images = _images(
        {
            "manifest.json": orjson.dumps(manifest),
            "abc.json": CONFIG,
            "def.json": b"{}",
            "l1/layer.tar": LAYER,
        }
    )
    assert len(images) == 2
    assert (images[0].config, images[0].layers, images[0].repo_tags) == (
        CONFIG,
        ["l1/layer.tar"],
        ["busybox:latest"],
    )
    assert (images[1].config, images[1].layers, images[1].repo_tags) == (b"{}", [], [])


def test_docker_layout_wins_over_oci_index() -> None:
    manifest = [{"Config": "c.json", "Layers": []}]
    images = _images(
        {"index.json": b"{}", "manifest.json": orjson.dumps(manifest), "c.json": CONFIG}
    )
    assert [i.config for i in images] == [CONFIG]


def test_member_names_with_dot_slash_prefix() -> None:
    manifest = [{"Config": "c.json", "Layers": ["./l/layer.tar"]}]
    with open_archive(
        _tar(
            {"./manifest.json": orjson.dumps(manifest), "./c.json": CONFIG, "./l/layer.tar": LAYER}
        )
    ) as archive:
        (image,) = archive.images("amd64")
        assert image.config == CONFIG
        assert archive.has("l/layer.tar")
        assert archive.has("/l/layer.tar")
        with archive.open(image.layers[0]) as stream:
            assert stream.read() == LAYER


def _oci(blobs: dict[str, bytes], top: dict[str, Any]) -> dict[str, bytes]:
    return {"index.json": orjson.dumps({"schemaVersion": 2, "manifests": [top]}), **blobs}


def test_oci_layout() -> None:
    manifest = orjson.dumps(
        {"config": _descriptor(CONFIG), "layers": [_descriptor(LAYER)], "schemaVersion": 2}
    )
    top = _descriptor(manifest, annotations={"io.containerd.image.name": "docker.io/x/y:1"})
    members = _oci(
        {_blob(manifest)[1]: manifest, _blob(CONFIG)[1]: CONFIG, _blob(LAYER)[1]: LAYER}, top
    )
    (image,) = _images(members)
    assert image.config == CONFIG
    assert image.layers == [_blob(LAYER)[1]]
    assert image.repo_tags == ["docker.io/x/y:1"]


def test_oci_nested_index_chooses_arch() -> None:
    arm_config = CONFIG.replace(b"amd64", b"arm64")
    manifests = {
        arch: orjson.dumps({"config": _descriptor(config), "layers": [_descriptor(LAYER)]})
        for arch, config in (("amd64", CONFIG), ("arm64", arm_config))
    }
    attestation = orjson.dumps({"config": _descriptor(b"att"), "layers": []})
    nested = orjson.dumps(
        {
            "manifests": [
                _descriptor(attestation, platform={"architecture": "unknown", "os": "unknown"}),
                _descriptor(manifests["arm64"], platform={"architecture": "arm64", "os": "linux"}),
                # Not in the archive: choosing it would fail with "is missing".
                _descriptor(b"win", platform={"architecture": "amd64", "os": "windows"}),
                _descriptor(manifests["amd64"], platform={"architecture": "amd64", "os": "linux"}),
            ]
        }
    )
    blobs = {
        _blob(data)[1]: data
        for data in (nested, attestation, *manifests.values(), CONFIG, arm_config, LAYER, b"att")
    }
    members = _oci(blobs, _descriptor(nested))

    (amd,) = _images(members, "amd64")
    assert amd.config == CONFIG
    assert amd.repo_tags == []
    (arm,) = _images(members, "arm64")
    assert arm.config == arm_config
    with pytest.raises(ArchiveError, match="no image for linux/s390x"):
        _images(members, "s390x")


@pytest.mark.parametrize(
    "index",
    [
        b'{"manifests": "nope"}',
        b'{"manifests": [1]}',
        b'{"manifests": [{"digest": "sha256/../../etc"}]}',
        b'{"manifests": [{"digest": "sha256:../../etc"}]}',
        b'{"manifests": [{"size": 1}]}',
        b"[]",
        b'{"manifests": [{"digest": "nocolon"}]}',
        b"{broken",
    ],
)
def test_bad_oci_index(index: bytes) -> None:
    with pytest.raises(ArchiveError):
        _images({"index.json": index})


def test_missing_manifest_and_index() -> None:
    with pytest.raises(ArchiveError, match=r"neither manifest\.json nor index\.json"):
        _images({"something.json": b"{}"})


@pytest.mark.parametrize("data", [b"", b"this is not a tar archive at all" * 40])
def test_non_tar_bytes(data: bytes) -> None:
    with pytest.raises(ArchiveError, match="invalid tar archive"), open_archive(io.BytesIO(data)):
        pass


def test_gzipped_archive_is_read() -> None:
    manifest = [{"Config": "c.json", "Layers": []}]
    buf = _tar({"manifest.json": orjson.dumps(manifest), "c.json": CONFIG}, gz=True)
    with open_archive(buf) as archive:
        assert [i.config for i in archive.images("amd64")] == [CONFIG]


def test_manifest_referencing_missing_config() -> None:
    manifest = [{"Config": "absent.json", "Layers": []}]
    with pytest.raises(ArchiveError, match=r"absent\.json is missing"):
        _images({"manifest.json": orjson.dumps(manifest)})


def test_open_missing_layer() -> None:
    manifest = [{"Config": "c.json", "Layers": ["gone/layer.tar"]}]
    with open_archive(_tar({"manifest.json": orjson.dumps(manifest), "c.json": CONFIG})) as archive:
        (image,) = archive.images("amd64")
        with pytest.raises(ArchiveError, match=r"gone/layer\.tar is missing"):
            archive.open(image.layers[0])


def test_oci_manifest_referencing_missing_blob() -> None:
    manifest = orjson.dumps({"config": _descriptor(CONFIG), "layers": []})
    members = _oci({_blob(manifest)[1]: manifest}, _descriptor(manifest))
    with pytest.raises(ArchiveError, match="is missing"):
        _images(members)


@pytest.mark.parametrize(
    "manifest",
    [
        b'{"Config": "c.json"}',
        b'[{"Layers": []}]',
        b'[{"Config": 5}]',
        b'[{"Config": "c.json", "Layers": [1]}]',
        b'[{"Config": "c.json", "RepoTags": "x:1"}]',
        b"[not json",
    ],
)
def test_malformed_manifest_json(manifest: bytes) -> None:
    with pytest.raises(ArchiveError):
        _images({"manifest.json": manifest, "c.json": CONFIG})


def test_directory_member_is_not_a_file() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("c.json")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        data = orjson.dumps([{"Config": "c.json"}])
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    with pytest.raises(ArchiveError, match="not a file"), open_archive(buf) as archive:
        archive.images("amd64")


def test_read_rejects_oversized_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.images.archive.MAX_METADATA", 8)
    with tarfile.open(fileobj=_tar({"big.json": b"0123456789"})) as tar:
        archive = ImageArchive(tar)
        with pytest.raises(ArchiveError, match="too large"):
            archive.read("big.json")


def test_open_archive_does_not_relabel_callers_os_errors() -> None:
    buf = _tar({"manifest.json": b"[]"})
    with pytest.raises(OSError, match="No space left"), open_archive(buf):
        raise OSError(28, "No space left on device")


def test_decompressed_plain_stream() -> None:
    data = b"plain layer data" * 100
    assert decompressed(io.BytesIO(data)).read() == data


def test_decompressed_gzip_stream() -> None:
    data = b"gzipped layer data" * 100
    assert decompressed(io.BytesIO(gzip.compress(data))).read() == data


def test_decompressed_short_stream() -> None:
    assert decompressed(io.BytesIO(b"\x1f")).read() == b"\x1f"
    assert decompressed(io.BytesIO(b"")).read() == b""
