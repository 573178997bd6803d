"""The prebuilt image's archive: export → import round trips (a small made-up image, and the
real cached one when this machine has built it), hostile archives refused with nothing
written, and the image lookup order: bundled, then built or installed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from engine_vm import image, image_archive, image_layout
from engine_vm.image_archive import ARCHIVE_MANIFEST, ArchiveError
from engine_vm.image_layout import IMAGE_FILES, Image, ImageBuildError
from engine_vm.recipe import debian_arch
from tests.vm.fake_image import KEY, make_image

REPO = Path(__file__).resolve().parents[2]
OTHER_ARCH = "arm64" if debian_arch() == "amd64" else "amd64"


def digests(directory: Path) -> dict[str, str]:
    return {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in IMAGE_FILES}


@pytest.fixture
def fake(tmp_path: Path) -> Image:
    return make_image(tmp_path / "built" / f"image-{KEY}")


def _real_image() -> Image | None:
    cache = image.cache_root()
    complete = [d for d in cache.glob("image-*") if not image_layout.missing_files(d)]
    if not complete:
        return None
    newest = max(complete, key=lambda d: (d / image_layout.MANIFEST).stat().st_mtime)
    return Image(newest, newest.name.removeprefix("image-"))


# --------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_of_a_small_image(fake: Image, tmp_path: Path) -> None:
    archive = image_archive.export_image(fake, tmp_path, level=1)
    assert archive.name == f"doca-vm-{image.doca_version()}-{debian_arch()}.tar.gz"
    with tarfile.open(archive) as tar:
        assert tar.getnames() == [ARCHIVE_MANIFEST, *IMAGE_FILES]
        manifest = image_archive.parse_manifest(tar.extractfile(ARCHIVE_MANIFEST).read())  # type: ignore[union-attr]
    assert manifest.key == KEY and manifest.arch == debian_arch()
    assert {n: e.sha256 for n, e in manifest.files.items()} == digests(fake.directory)

    cache = tmp_path / "cache"
    installed = image_archive.import_image(archive, cache)
    assert installed == Image(cache / f"image-{KEY}", KEY)
    assert digests(installed.directory) == digests(fake.directory)
    # The zeros of the root disk stay a hole.
    assert installed.root_disk.stat().st_blocks * 512 < 1024 * 1024
    assert sorted(p.name for p in cache.iterdir()) == [".lock", f"image-{KEY}"]

    # Importing again replaces the image in place.
    again = image_archive.import_image(archive, cache)
    assert again == installed and digests(again.directory) == digests(fake.directory)
    assert sorted(p.name for p in cache.iterdir()) == [".lock", f"image-{KEY}"]


def test_round_trip_of_the_cached_image(tmp_path: Path) -> None:
    real = _real_image()
    if real is None:
        pytest.skip(f"no VM image built in {image.cache_root()} (python -m engine_vm.image build)")
    archive = image_archive.export_image(real, tmp_path / "vm.tar.gz", level=1)
    assert archive == tmp_path / "vm.tar.gz"
    installed = image_archive.import_image(archive, tmp_path / "cache")
    assert installed.key == real.key
    for name in IMAGE_FILES:
        assert (installed.directory / name).stat().st_size == (real.directory / name).stat().st_size
    manifest = image_archive.manifest_for(installed)
    assert manifest == image_archive.manifest_for(real)


def test_cli_exports_and_unpacks_for_bundling(fake: Image, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine_vm.image", *args], cwd=REPO, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip

    out = tmp_path / "out"
    out.mkdir()
    exported = cli("export", str(out), "--image", str(fake.directory), "--level", "1")
    assert exported.returncode == 0, exported.stderr
    archive = Path(exported.stdout.strip())
    assert archive.parent == out and archive.is_file()

    bundle = tmp_path / "bundle" / "vm-image"
    unpacked = cli("import", str(archive), "--to", str(bundle))
    assert unpacked.returncode == 0, unpacked.stderr
    assert digests(bundle) == digests(fake.directory)
    assert bundle.stat().st_mode & 0o777 == 0o755

    again = cli("import", str(archive), "--to", str(bundle))
    assert again.returncode == 1
    assert again.stderr == f"python -m engine_vm.image: {bundle} already exists\n"

    junk = tmp_path / "junk.tar.gz"
    junk.write_text("not an archive")
    refused = cli("import", str(junk), "--to", str(tmp_path / "other"))
    assert refused.returncode == 1
    assert "is not a readable VM image archive" in refused.stderr
    assert not (tmp_path / "other").exists()


# --------------------------------------------------------------------------------------------
# Hostile and malformed archives


Member = tuple[tarfile.TarInfo, bytes]


def members_of(img: Image, **manifest_changes: object) -> list[Member]:
    """The members export would write for ``img``, with the manifest changed as asked."""
    manifest = json.loads(image_archive.manifest_for(img).to_json())
    manifest.update(manifest_changes)
    members = [_regular(ARCHIVE_MANIFEST, json.dumps(manifest).encode())]
    members += [_regular(n, (img.directory / n).read_bytes()) for n in IMAGE_FILES]
    return members


def _regular(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def write_archive(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _renamed(members: list[Member], old: str, new: str) -> list[Member]:
    out = []
    for info, data in members:
        if info.name == old:
            info = _regular(new, data)[0]
        out.append((info, data))
    return out


def _symlink(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def _tampered(members: list[Member], name: str, data: bytes | None = None) -> list[Member]:
    out = []
    for info, old in members:
        if info.name == name:
            new = data if data is not None else bytes([old[0] ^ 1]) + old[1:]
            info = _regular(name, new)[0]
            old = new
        out.append((info, old))
    return out


HOSTILE: dict[str, tuple[Callable[[Image], list[Member]], str]] = {
    "path traversal": (
        lambda img: [*members_of(img)[:-1], _regular("../escaped", b"x" * 10)],
        "unexpected member '../escaped'",
    ),
    "absolute path": (
        lambda img: _renamed(members_of(img), "vmlinuz", "/tmp/vmlinuz"),
        "unexpected member '/tmp/vmlinuz'",
    ),
    "dot-slash name": (
        lambda img: _renamed(members_of(img), "vmlinuz", "./vmlinuz"),
        "unexpected member './vmlinuz'",
    ),
    "symlink": (
        lambda img: [*members_of(img)[:2], _symlink("vmlinuz", "/etc/passwd")],
        "member 'vmlinuz' is not a regular file",
    ),
    "wrong size": (
        lambda img: _tampered(members_of(img), "initrd.img", b"short"),
        "member 'initrd.img' is 5 bytes; the manifest says 2000",
    ),
    "wrong digest": (
        lambda img: _tampered(members_of(img), "root.img"),
        "root.img does not match its sha256",
    ),
    "extra member": (
        lambda img: [*members_of(img), _regular("extra", b"x")],
        "unexpected member 'extra'",
    ),
    "repeated member": (
        lambda img: [*members_of(img), members_of(img)[1]],
        "unexpected member 'image.json'",
    ),
    "missing member": (lambda img: members_of(img)[:-1], "the archive lacks root.img"),
    "manifest not first": (
        lambda img: members_of(img)[1:] + members_of(img)[:1],
        "must start with doca-vm.json; found 'image.json'",
    ),
    "manifest not JSON": (
        lambda img: [_regular(ARCHIVE_MANIFEST, b"{nope"), *members_of(img)[1:]],
        "doca-vm.json is not JSON",
    ),
    "newer format": (lambda img: members_of(img, format=2), "archive format 2 is not supported"),
    "key that is a path": (lambda img: members_of(img, key="../../etc"), "bad key '../../etc'"),
    "unknown arch": (lambda img: members_of(img, arch="sparc"), "bad arch 'sparc'"),
    "file list": (
        lambda img: members_of(img, files={"vmlinuz": {"size": 1, "sha256": "0" * 64}}),
        "must list exactly",
    ),
    "negative size": (
        lambda img: members_of(
            img, files={n: {"size": -1, "sha256": "0" * 64} for n in IMAGE_FILES}
        ),
        "bad size -1",
    ),
    "image.json of another image": (
        lambda img: members_of(img, key="fedcba9876543210"),
        "the image's image.json does not match doca-vm.json",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_archive_is_refused_and_nothing_is_written(
    case: str, fake: Image, tmp_path: Path
) -> None:
    make_members, message = HOSTILE[case]
    archive = write_archive(tmp_path / "hostile.tar.gz", make_members(fake))
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match=message.replace(".", r"\.").replace("(", r"\(")):
        image_archive.import_image(archive, cache)
    assert not cache.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "hostile.tar.gz"]


def test_truncated_and_foreign_files_are_refused(fake: Image, tmp_path: Path) -> None:
    good = image_archive.export_image(fake, tmp_path / "good.tar.gz", level=1)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    plain_tar = tmp_path / "plain.tar"
    with tarfile.open(plain_tar, "w") as tar:
        tar.add(fake.kernel, arcname="vmlinuz")
    for archive in (truncated, plain_tar, tmp_path / "absent.tar.gz"):
        cache = tmp_path / "cache"
        with pytest.raises((ArchiveError, FileNotFoundError)):
            image_archive.import_image(archive, cache)
        assert not cache.exists()
    with pytest.raises(ArchiveError, match="is not a readable VM image archive"):
        image_archive.import_image(truncated, tmp_path / "cache")


def test_an_image_for_another_arch_is_refused_in_the_cache_but_can_be_bundled(
    tmp_path: Path,
) -> None:
    other = make_image(tmp_path / "other", arch=OTHER_ARCH)
    archive = image_archive.export_image(other, tmp_path / "other.tar.gz", level=1)
    with pytest.raises(ArchiveError, match=f"the image is for {OTHER_ARCH} hosts"):
        image_archive.import_image(archive, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    bundled = image_archive.unpack_to(archive, tmp_path / "bundle")
    assert digests(bundled.directory) == digests(other.directory)


# --------------------------------------------------------------------------------------------
# Which image is booted


@pytest.fixture
def cannot_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image.platform, "system", lambda: "Darwin")
    monkeypatch.delenv(image_layout.IMAGE_ENV, raising=False)


@pytest.mark.usefixtures("cannot_build")
def test_a_host_that_cannot_build_says_to_install_the_prebuilt_image(tmp_path: Path) -> None:
    name = f"doca-vm-{image.doca_version()}-{debian_arch()}.tar.gz"
    with pytest.raises(ImageBuildError) as raised:
        image.ensure_image(cache=tmp_path / "cache")
    assert str(raised.value) == (
        "building the VM image needs Linux (this host runs Darwin). Install the prebuilt "
        f"image for doca {image.doca_version()} ({debian_arch()}) instead: "
        f"python -m engine_vm.image import {name}"
    )
    make_image(tmp_path / "cache" / "image-aaaaaaaaaaaaaaaa", key="a" * 16, arch=OTHER_ARCH)
    with pytest.raises(ImageBuildError, match=rf"holds images for doca .* \({OTHER_ARCH}\) only"):
        image.ensure_image(cache=tmp_path / "cache")


@pytest.mark.usefixtures("cannot_build")
def test_a_host_that_cannot_build_boots_the_imported_image(fake: Image, tmp_path: Path) -> None:
    archive = image_archive.export_image(fake, tmp_path, level=1)
    installed = image_archive.import_image(archive, tmp_path / "cache")
    assert image.ensure_image(cache=tmp_path / "cache") == installed


@pytest.mark.usefixtures("cannot_build")
def test_the_image_of_exactly_this_engine_wins_over_a_newer_one(tmp_path: Path) -> None:
    """A checkout whose engine files an image was built from boots that image, not the newest
    one of the same version."""
    key = image.image_key(image.current_recipe(), image.site_directory())
    exact = make_image(tmp_path / "cache" / f"image-{key}", key=key)
    newer = make_image(tmp_path / "cache" / "image-bbbbbbbbbbbbbbbb", key="b" * 16)
    os.utime(exact.directory / image_layout.MANIFEST, (1, 1))
    assert image.ensure_image(cache=tmp_path / "cache") == exact
    shutil.rmtree(exact.directory)
    assert image.ensure_image(cache=tmp_path / "cache") == newer


def test_the_bundled_image_comes_first(
    fake: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(image_layout.IMAGE_ENV, str(fake.directory))
    # Never looked at: neither built nor searched for.
    assert image.ensure_image(cache=tmp_path / "absent") == fake
    assert not (tmp_path / "absent").exists()

    (fake.directory / image_layout.ROOT_DISK).unlink()
    with pytest.raises(ImageBuildError, match=r"is not a VM image \(root.img missing\)"):
        image.ensure_image(cache=tmp_path / "absent")


def test_a_frozen_app_finds_its_image_in_the_bundle(fake: Image, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert image_layout.bundled_directory({}, str(bundle)) is None
    make_image(bundle / image_layout.BUNDLED_DIR)
    found = image_layout.bundled_image({}, str(bundle))
    assert found == Image(bundle / image_layout.BUNDLED_DIR, KEY)
    # The variable wins over the bundle.
    env = {image_layout.IMAGE_ENV: str(fake.directory)}
    assert image_layout.bundled_image(env, str(bundle)) == fake


def test_why_a_host_cannot_build() -> None:
    assert image.why_cannot_build("Windows") == (
        "building the VM image needs Linux (this host runs Windows)"
    )
