"""The prebuilt VM image as one file: built and exported on Linux, imported (or bundled) on
hosts that cannot build it.

The archive is a gzip-compressed tar whose first member, ``doca-vm.json``, names the archive
format, the doca version, the architecture, the image's key and the size and SHA-256 of each
of the image's files; the files follow under their plain names and nothing else may. Import
trusts nothing in it: the manifest is checked before any file is read, every member against
the manifest before it is written, and each file's digest once it is; the image is written
into a temporary directory beside its place and renamed there only when all of it matched,
so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engine_vm.image import archive_name, cache_root, locked, prune_images
from engine_vm.image_layout import (
    IMAGE_FILES,
    IMAGE_PREFIX,
    MANIFEST,
    Image,
    ImageBuildError,
    image_arch,
    read_manifest,
)
from engine_vm.recipe import debian_arch

#: Bump when the archive's layout changes; import refuses formats it does not know.
ARCHIVE_FORMAT = 1
ARCHIVE_MANIFEST = "doca-vm.json"
#: Larger than any root disk the recipe makes; a manifest asking for more is not ours.
MAX_FILE_SIZE = 16 * 1024**3
MAX_MANIFEST_SIZE = 64 * 1024
ARCHS = ("amd64", "arm64")
_CHUNK = 64 * 1024  # also the granularity of the holes left for blocks of zeros
_ZEROS = bytes(_CHUNK)
_KEY = re.compile(r"^[0-9a-f]{16}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")


class ArchiveError(ImageBuildError):
    """An archive that is not a VM image this doca can use."""


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str


@dataclass(frozen=True)
class ArchiveManifest:
    version: str
    arch: str
    key: str
    files: Mapping[str, FileEntry]
    format: int = ARCHIVE_FORMAT

    def to_json(self) -> bytes:
        files = {name: {"size": e.size, "sha256": e.sha256} for name, e in self.files.items()}
        document = {"format": self.format, "version": self.version, "arch": self.arch,
                    "key": self.key, "files": files}  # fmt: skip
        return (json.dumps(document, indent=2) + "\n").encode()


def parse_manifest(data: bytes) -> ArchiveManifest:
    """The archive's manifest, checked field by field; ArchiveError says what is wrong."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{ARCHIVE_MANIFEST} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ArchiveError(f"{ARCHIVE_MANIFEST} is not a JSON object")
    fmt = document.get("format")
    if fmt != ARCHIVE_FORMAT:
        raise ArchiveError(f"archive format {fmt!r} is not supported (this doca reads format "
                           f"{ARCHIVE_FORMAT}; a newer doca may read it)")  # fmt: skip
    version, arch, key = document.get("version"), document.get("arch"), document.get("key")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ArchiveError(f"bad version {version!r} in {ARCHIVE_MANIFEST}")
    if arch not in ARCHS:
        raise ArchiveError(f"bad arch {arch!r} in {ARCHIVE_MANIFEST}")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ArchiveError(f"bad key {key!r} in {ARCHIVE_MANIFEST}")
    files = document.get("files")
    if not isinstance(files, dict) or sorted(files) != sorted(IMAGE_FILES):
        raise ArchiveError(f"{ARCHIVE_MANIFEST} must list exactly {', '.join(IMAGE_FILES)}")
    entries = {name: _file_entry(name, files[name]) for name in IMAGE_FILES}
    return ArchiveManifest(version, str(arch), key, entries)


def _file_entry(name: str, entry: object) -> FileEntry:
    if not isinstance(entry, dict):
        raise ArchiveError(f"bad entry for {name} in {ARCHIVE_MANIFEST}")
    size, digest = entry.get("size"), entry.get("sha256")
    if type(size) is not int or not 0 < size <= MAX_FILE_SIZE:
        raise ArchiveError(f"bad size {size!r} for {name} in {ARCHIVE_MANIFEST}")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise ArchiveError(f"bad sha256 {digest!r} for {name} in {ARCHIVE_MANIFEST}")
    return FileEntry(size, digest)


def check_member(member: tarfile.TarInfo, manifest: ArchiveManifest, seen: set[str]) -> None:
    """Refuse a member that is not one of the image's files exactly as the manifest lists
    it: other names (``../x``, ``/etc/x``, ``./vmlinuz``), links, devices, repeats."""
    if member.name not in manifest.files or member.name in seen:
        raise ArchiveError(f"unexpected member {member.name!r}")
    if not member.isreg() or member.issparse():
        raise ArchiveError(f"member {member.name!r} is not a regular file")
    expected = manifest.files[member.name].size
    if member.size != expected:
        raise ArchiveError(f"member {member.name!r} is {member.size} bytes; the manifest "
                           f"says {expected}")  # fmt: skip


# --------------------------------------------------------------------------------------------
# Export


def _digest(path: Path) -> FileEntry:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return FileEntry(size, h.hexdigest())


def manifest_for(image: Image) -> ArchiveManifest:
    """The manifest of ``image``'s files as they are now."""
    info = image.manifest
    version, arch = info.get("version"), image_arch(info)
    if not isinstance(version, str) or arch is None:
        raise ImageBuildError(f"{image.directory / MANIFEST} names no version or arch")
    files = {name: _digest(image.directory / name) for name in IMAGE_FILES}
    return ArchiveManifest(version, arch, image.key, files)


def export_image(image: Image, out: Path, level: int = 6) -> Path:
    """Write ``image`` as an archive to ``out`` (a directory gets the archive's usual name);
    returns the archive's path. Written beside it first, so a reader never sees half."""
    manifest = manifest_for(image)
    target = out / archive_name(manifest.version, manifest.arch) if out.is_dir() else out
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=level, format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, ARCHIVE_MANIFEST, manifest.to_json())
            for name in IMAGE_FILES:
                path = image.directory / name
                info = _plain_info(name, manifest.files[name].size)
                with path.open("rb") as f:
                    tar.addfile(info, f)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _plain_info(name: str, size: int) -> tarfile.TarInfo:
    # Owners, modes and times of the build host mean nothing where the image is imported.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_plain_info(name, len(data)), io.BytesIO(data))


# --------------------------------------------------------------------------------------------
# Import


def import_image(archive: Path, cache: Path | None = None) -> Image:
    """Verify ``archive`` and install its image into the cache as ``image-<key>``; an image
    with that key already there is replaced. The image must be for this host's arch."""
    cache = cache or cache_root()
    created = not cache.exists()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        work = _work_dir(cache, ".import-")
    except OSError:
        _remove_if_created(cache, created)
        raise
    try:
        manifest = unpack(archive, work, host_arch=debian_arch())
        final = cache / f"{IMAGE_PREFIX}{manifest.key}"
        with locked(cache / ".lock"):
            _install(work, final)
        prune_images(cache, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        _remove_if_created(cache, created)
        raise
    return Image(final, manifest.key)


def unpack_to(archive: Path, target: Path) -> Image:
    """Verify ``archive`` and unpack its image into ``target``, a directory that must not
    exist yet (the image bundled with an app is made this way, for any arch)."""
    if target.exists():
        raise ArchiveError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = _work_dir(target.parent, f".{target.name}-")
    try:
        manifest = unpack(archive, work)
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Image(target, manifest.key)


def unpack(archive: Path, directory: Path, host_arch: str | None = None) -> ArchiveManifest:
    """Verify ``archive`` while writing its files into the empty ``directory``; raises
    ArchiveError (leaving whatever it wrote for the caller to delete) when anything does not
    match. ``host_arch``, when given, must be the image's."""
    try:
        with _open(archive) as tar:
            manifest = _read_manifest(tar)
            if host_arch is not None and manifest.arch != host_arch:
                raise ArchiveError(f"the image is for {manifest.arch} hosts; this host is "
                                   f"{host_arch}")  # fmt: skip
            _check_space(directory, manifest)
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                check_member(member, manifest, seen)
                seen.add(member.name)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has data
                _write_verified(source, directory / member.name, manifest.files[member.name])
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and not _is_format_error(exc):
            raise ArchiveError(f"cannot import {archive}: {exc}") from exc
        raise ArchiveError(f"{archive} is not a readable VM image archive: {exc}") from None
    missing = [name for name in IMAGE_FILES if name not in seen]
    if missing:
        raise ArchiveError(f"the archive lacks {', '.join(missing)}")
    _check_image_manifest(directory, manifest)
    return manifest


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile]:
    # A stream: members are read once, in order, and nothing seeks back on a hostile file.
    with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        yield tar


def _is_format_error(exc: OSError) -> bool:
    """gzip's BadGzipFile is an OSError, but says the archive is bad, not the disk."""
    return isinstance(exc, gzip.BadGzipFile)


def _read_manifest(tar: tarfile.TarFile) -> ArchiveManifest:
    first = tar.next()
    if first is None or first.name != ARCHIVE_MANIFEST:
        found = "nothing" if first is None else repr(first.name)
        raise ArchiveError(f"the archive must start with {ARCHIVE_MANIFEST}; found {found}")
    if not first.isreg() or first.size > MAX_MANIFEST_SIZE:
        raise ArchiveError(f"{ARCHIVE_MANIFEST} is not a small regular file")
    source = tar.extractfile(first)
    assert source is not None
    return parse_manifest(source.read())


def _check_space(directory: Path, manifest: ArchiveManifest) -> None:
    needed = sum(entry.size for entry in manifest.files.values())
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise ArchiveError(f"the image needs {needed // 2**20} MiB and {directory.parent} has "
                           f"{free // 2**20} MiB free")  # fmt: skip


def _write_verified(source: IO[bytes], path: Path, entry: FileEntry) -> None:
    """Copy ``source`` to the new file ``path``, hashing it; blocks of zeros are skipped
    over, so the root disk's free space stays a hole where the filesystem has them."""
    h = hashlib.sha256()
    written = 0
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as out:
        while chunk := source.read(_CHUNK):
            h.update(chunk)
            written += len(chunk)
            if chunk == _ZEROS[: len(chunk)]:
                out.seek(len(chunk), os.SEEK_CUR)
            else:
                out.write(chunk)
        out.truncate(written)
    if written != entry.size or h.hexdigest() != entry.sha256:
        raise ArchiveError(f"{path.name} does not match its sha256 in {ARCHIVE_MANIFEST}")


def _check_image_manifest(directory: Path, manifest: ArchiveManifest) -> None:
    try:
        info = read_manifest(directory)
    except ValueError as exc:
        raise ArchiveError(f"the image's {MANIFEST} is unreadable: {exc}") from None
    if info.get("key") != manifest.key or info.get("version") != manifest.version:
        raise ArchiveError(f"the image's {MANIFEST} does not match {ARCHIVE_MANIFEST}")
    if image_arch(info) != manifest.arch:
        raise ArchiveError(f"the image's {MANIFEST} is for another arch")


def _install(work: Path, final: Path) -> None:
    """Rename ``work`` to ``final``, replacing an image there (a VM running from the old
    one keeps its open files)."""
    old = final.with_name(f".replaced-{final.name}-{os.getpid()}")
    if final.exists():
        os.rename(final, old)
    try:
        os.rename(work, final)
    except OSError:
        if old.exists():
            os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _work_dir(parent: Path, prefix: str) -> Path:
    # Beside its final place, so that installing it is a rename; readable like a built
    # image, since an app's bundled image is read by whoever runs the app.
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    work.chmod(0o755)
    return work


def _remove_if_created(cache: Path, created: bool) -> None:
    if created:
        with contextlib.suppress(OSError):
            cache.rmdir()
