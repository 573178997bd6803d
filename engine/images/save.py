"""``GET /images/get``: write images as a ``docker save`` archive.

The archive has both layouts dockerd 25+ writes — ``manifest.json`` for every docker version
and an OCI image layout (``index.json``, ``oci-layout``) — with layers as the exact blobs that
were loaded, so a save/load round trip keeps image IDs and layer digests.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import IO, Any

import orjson

from engine.content.store import sha256_digest
from engine.images.reference import Reference
from engine.images.store import ImageRecord, ImageStore

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class SaveItem:
    record: ImageRecord
    refs: list[Reference]


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


class ArchiveWriter:
    def __init__(self, out: IO[bytes], store: ImageStore) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._store = store
        self._written: set[str] = set()

    def _add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))

    def _add_dir(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        self._tar.addfile(info)

    def _add_blob(self, digest: str) -> int:
        name = _blob_name(digest)
        size = self._store.content.size(digest)
        if name not in self._written:
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = 0o644
            with self._store.content.open(digest) as blob:
                self._tar.addfile(info, blob)
            self._written.add(name)
        return size

    def write(self, items: list[SaveItem]) -> None:
        self._add_dir("blobs")
        self._add_dir("blobs/sha256")
        manifest_json: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        for item in items:
            record = item.record
            config_size = self._add_blob(record.id)
            layers = [
                {"mediaType": MEDIA_LAYER, "digest": d, "size": self._add_blob(d)}
                for d in record.diff_ids
            ]
            manifest = orjson.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MEDIA_MANIFEST,
                    "config": {"mediaType": MEDIA_CONFIG, "digest": record.id, "size": config_size},
                    "layers": layers,
                }
            )
            manifest_digest = sha256_digest(manifest)
            if _blob_name(manifest_digest) not in self._written:
                self._add_bytes(_blob_name(manifest_digest), manifest)
                self._written.add(_blob_name(manifest_digest))
            descriptor = {
                "mediaType": MEDIA_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest),
            }
            tags = [r for r in item.refs if r.tag]
            for ref in tags:
                annotations = {
                    "io.containerd.image.name": str(ref),
                    "org.opencontainers.image.ref.name": ref.tag,
                }
                index.append({**descriptor, "annotations": annotations})
            if not tags:
                index.append(descriptor)
            manifest_json.append(
                {
                    "Config": _blob_name(record.id),
                    "RepoTags": [r.familiar() for r in tags] or None,
                    "Layers": [_blob_name(d) for d in record.diff_ids],
                }
            )
        self._add_bytes(
            "index.json",
            orjson.dumps({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": index}),
        )
        self._add_bytes("manifest.json", orjson.dumps(manifest_json))
        self._add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        self._tar.close()
