"""Manifest validation for PUT: which kind a body is and what it references.

Pure: the handler checks the references against the repository afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from engine.registry_server.errors import MANIFEST_INVALID, RegistryError
from engine.registry_server.names import check_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEXES = frozenset({DOCKER_LIST, OCI_INDEX})
MEDIA_TYPES = IMAGE_MANIFESTS | INDEXES

# Layers a registry is not expected to hold: they are fetched from their ``urls``.
FOREIGN_LAYERS = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)

MAX_MANIFEST_SIZE = 4 << 20


@dataclass(frozen=True)
class ManifestRefs:
    """A validated manifest: its media type, the blobs and the child manifests it needs."""

    media_type: str
    blobs: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()


def _invalid(detail: str) -> RegistryError:
    return RegistryError(MANIFEST_INVALID, detail)


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType is not a string")
    header = (content_type or "").split(";", 1)[0].strip().lower()
    header = header if header in MEDIA_TYPES else ""
    if declared and header and declared != header:
        raise _invalid(f"mediaType {declared} does not match Content-Type {header}")
    chosen = declared or header
    if not chosen:
        # OCI allows leaving mediaType out; the shape then says what the document is.
        chosen = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if chosen not in MEDIA_TYPES:
        raise _invalid(f"unsupported manifest media type {chosen}")
    return chosen


def _descriptor(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a descriptor")
    digest, size = value.get("digest"), value.get("size")
    if not isinstance(value.get("mediaType"), str):
        raise _invalid(f"{where} has no mediaType")
    if not isinstance(digest, str):
        raise _invalid(f"{where} has no digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where} has no valid size")
    try:
        check_digest(digest)
    except RegistryError as exc:
        raise _invalid(f"{where} has an unsupported digest {digest!r}") from exc
    return value


def _descriptors(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    values = document.get(key)
    if not isinstance(values, list):
        raise _invalid(f"{key} is not a list")
    return [_descriptor(value, f"{key}[{i}]") for i, value in enumerate(values)]


def parse_manifest(body: bytes, content_type: str | None) -> ManifestRefs:
    """Validate a manifest body; raise MANIFEST_INVALID with the reason when it is not one."""
    if len(body) > MAX_MANIFEST_SIZE:
        raise _invalid(f"manifest is larger than {MAX_MANIFEST_SIZE} bytes")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _invalid(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _invalid("not a JSON object")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    media_type = _media_type(document, content_type)
    if media_type in INDEXES:
        children = _descriptors(document, "manifests")
        return ManifestRefs(media_type, manifests=tuple(d["digest"] for d in children))
    config = _descriptor(document.get("config"), "config")
    layers = _descriptors(document, "layers")
    needed = [config] + [layer for layer in layers if layer["mediaType"] not in FOREIGN_LAYERS]
    return ManifestRefs(media_type, blobs=tuple(dict.fromkeys(d["digest"] for d in needed)))
