"""Reading ``docker save`` archives: the ``manifest.json`` layout and the OCI image layout.

Nothing in the archive is ever extracted to disk by name: members are looked up in an index
built from the tar headers and read as streams, so hostile member names cannot escape.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, cast

import orjson

from engine.errors import InvalidParameter

MAX_METADATA = 16 << 20  # manifest.json, index.json, configs: far bigger than any real one
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ArchiveError(InvalidParameter):
    pass


@dataclass
class ArchivedImage:
    """One image found in an archive: its config and where its layers are."""

    config: bytes
    layers: list[str]
    repo_tags: list[str] = field(default_factory=list)


def _normalise(name: str) -> str:
    return posixpath.normpath(name.lstrip("/")).removeprefix("./")


class ImageArchive:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar
        self._members = {_normalise(m.name): m for m in tar.getmembers()}

    def has(self, name: str) -> bool:
        return _normalise(name) in self._members

    def open(self, name: str) -> IO[bytes]:
        member = self._members.get(_normalise(name))
        if member is None:
            raise ArchiveError(f"invalid archive: {name} is missing")
        try:
            stream = self._tar.extractfile(member)
        except KeyError as exc:
            raise ArchiveError(f"invalid archive: {name} links to a missing member") from exc
        if stream is None:
            raise ArchiveError(f"invalid archive: {name} is not a file")
        return stream

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            data = stream.read(MAX_METADATA + 1)
        if len(data) > MAX_METADATA:
            raise ArchiveError(f"invalid archive: {name} is too large")
        return data

    def read_json(self, name: str) -> Any:
        try:
            return orjson.loads(self.read(name))
        except orjson.JSONDecodeError as exc:
            raise ArchiveError(f"invalid archive: {name}: {exc}") from exc

    def images(self, arch: str) -> list[ArchivedImage]:
        if self.has("manifest.json"):
            return self._docker_images()
        if self.has("index.json"):
            return self._oci_images(arch)
        raise ArchiveError("invalid archive: it has neither manifest.json nor index.json")

    def _docker_images(self) -> list[ArchivedImage]:
        manifest = self.read_json("manifest.json")
        if not isinstance(manifest, list):
            raise ArchiveError("invalid archive: manifest.json is not a list")
        images = []
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise ArchiveError("invalid archive: manifest.json entry without Config")
            layers = entry.get("Layers") or []
            tags = entry.get("RepoTags") or []
            if not _strings(layers) or not _strings(tags):
                raise ArchiveError("invalid archive: Layers and RepoTags must be lists of strings")
            images.append(ArchivedImage(self.read(entry["Config"]), layers, tags))
        return images

    def _blob_path(self, descriptor: Any) -> str:
        digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
        if not isinstance(digest, str) or ":" not in digest or "/" in digest:
            raise ArchiveError("invalid archive: descriptor without a valid digest")
        algorithm, hex_ = digest.split(":", 1)
        return f"blobs/{algorithm}/{hex_}"

    def _oci_images(self, arch: str) -> list[ArchivedImage]:
        index = self.read_json("index.json")
        images = []
        for descriptor in _manifests(index):
            name = (descriptor.get("annotations") or {}).get("io.containerd.image.name")
            manifest = self._resolve_manifest(descriptor, arch)
            config_path = self._blob_path(manifest.get("config"))
            layers = [self._blob_path(layer) for layer in manifest.get("layers") or []]
            images.append(ArchivedImage(self.read(config_path), layers, [name] if name else []))
        return images

    def _resolve_manifest(self, descriptor: dict[str, Any], arch: str) -> dict[str, Any]:
        """Follow nested indexes down to the manifest for this platform."""
        for _ in range(8):
            doc = self.read_json(self._blob_path(descriptor))
            if not isinstance(doc, dict):
                raise ArchiveError("invalid archive: manifest is not an object")
            if "manifests" not in doc:
                return doc
            candidates = _manifests(doc)
            chosen = [
                m
                for m in candidates
                if (m.get("platform") or {}).get("architecture", arch) == arch
                and (m.get("platform") or {}).get("os", "linux") == "linux"
            ]
            if not chosen:
                raise ArchiveError(f"invalid archive: no image for linux/{arch}")
            descriptor = chosen[0]
        raise ArchiveError("invalid archive: indexes nested too deeply")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _manifests(index: Any) -> list[dict[str, Any]]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise ArchiveError("invalid archive: index has no manifests")
    return manifests


@contextmanager
def open_archive(fileobj: IO[bytes]) -> Iterator[ImageArchive]:
    """The archive in ``fileobj``; a broken archive is an ArchiveError, while OS errors of the
    caller's own work (a full disk, say) pass through as they are."""
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r:*")  # noqa: SIM115
        archive = ImageArchive(tar)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ArchiveError(f"invalid tar archive: {exc}") from exc
    with tar:
        try:
            yield archive
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ArchiveError(f"invalid tar archive: {exc}") from exc


def decompressed(stream: IO[bytes]) -> IO[bytes]:
    """A layer stream as an uncompressed tar, whether it was stored plain, gzip or zstd."""
    buffered = io.BufferedReader(stream)  # type: ignore[type-var]
    magic = buffered.peek(4)[:4]
    if magic.startswith(GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))
    if magic == ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError as exc:
            raise ArchiveError("zstd-compressed layers need the zstandard package") from exc
        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(buffered))
    return buffered
