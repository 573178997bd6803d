"""Parsing and validating image manifests and indexes fetched from (or pushed to) a registry.

Everything here is pure: bytes in, dataclasses or InvalidParameter out. A registry is an
untrusted peer, so sizes, types and digests are checked before anything acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.errors import InvalidParameter, NotFound
from engine.registry import mediatypes
from engine.registry.digests import validate_digest
from engine.registry.platforms import Platform, rank

# The limit containerd and distribution put on a manifest body.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

# BuildKit stores provenance/SBOM attestations as index entries with this annotation and an
# ``unknown/unknown`` platform; they are never runnable images.
_REFERENCE_TYPE = "vnd.docker.reference.type"

SCHEMA1_REMOVED = (
    "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been"
    " removed. Suggest the author of {ref} to upgrade the image to the OCI Format or Docker Image"
    " manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageManifest:
    """A Docker schema2 or OCI image manifest: one config blob and its layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageIndex:
    """A Docker manifest list or OCI index: one manifest per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]


def parse_manifest(raw: bytes, media_type: str = "", ref: str = "") -> ImageManifest | ImageIndex:
    """Validate ``raw`` against its Content-Type ``media_type`` (may be empty or generic JSON).

    ``ref`` only names the image in the schema1 error.
    """
    if len(raw) > MAX_MANIFEST_SIZE:
        raise InvalidParameter(
            f"manifest too large: {len(raw)} bytes exceeds the limit of {MAX_MANIFEST_SIZE}"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"invalid manifest: not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidParameter("invalid manifest: expected a JSON object")
    kind = _media_type(body, mediatypes.base(media_type), ref)
    if body.get("schemaVersion") != 2:
        raise InvalidParameter(
            f"unsupported manifest schemaVersion {body.get('schemaVersion')!r} for {kind}"
        )
    if kind in mediatypes.INDEXES:
        entries = body.get("manifests")
        if not isinstance(entries, list):
            raise InvalidParameter("invalid manifest list: manifests must be an array")
        return ImageIndex(kind, tuple(_descriptor(e, "manifests") for e in entries))
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise InvalidParameter("invalid manifest: layers must be an array")
    return ImageManifest(
        kind,
        _descriptor(body.get("config"), "config"),
        tuple(_descriptor(layer, "layers") for layer in layers),
    )


def _media_type(body: dict[str, Any], declared: str, ref: str) -> str:
    inner = body.get("mediaType")
    if inner is not None and not isinstance(inner, str):
        raise InvalidParameter("invalid manifest: mediaType must be a string")
    schema1 = (mediatypes.DOCKER_SCHEMA1_MANIFEST, mediatypes.DOCKER_SCHEMA1_SIGNED_MANIFEST)
    if declared in schema1 or inner in schema1 or body.get("schemaVersion") == 1:
        raise InvalidParameter(SCHEMA1_REMOVED.format(ref=ref or "this image"))
    if declared in mediatypes.MANIFESTS:
        # OCI lets the field be absent; when present it must agree with what was served.
        if inner and inner != declared:
            raise InvalidParameter(f"mediaType in manifest should be '{declared}' not '{inner}'")
        return declared
    if inner in mediatypes.MANIFESTS:
        return inner
    if inner:
        raise InvalidParameter(f"unsupported manifest media type {inner[:200]!r}")
    # An OCI document served as plain JSON without a mediaType: tell it by its shape.
    if "manifests" in body:
        return mediatypes.OCI_INDEX
    if "config" in body:
        return mediatypes.OCI_MANIFEST
    raise InvalidParameter("unsupported manifest format")


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidParameter(f"invalid manifest: {where} entry must be an object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidParameter(f"invalid manifest: {where} entry has no mediaType")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidParameter(f"invalid manifest: {where} entry has an invalid size {size!r}")
    urls = value.get("urls") or []
    annotations = value.get("annotations") or {}
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InvalidParameter(f"invalid manifest: {where} entry has invalid urls")
    if not isinstance(annotations, dict) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        raise InvalidParameter(f"invalid manifest: {where} entry has invalid annotations")
    return Descriptor(
        media_type=media_type,
        digest=validate_digest(value.get("digest")),
        size=size,
        platform=Platform.from_json(value.get("platform")),
        urls=tuple(urls),
        annotations=dict(annotations),
    )


def select_platform(
    index: ImageIndex, os: str = "linux", architecture: str = "amd64", variant: str = ""
) -> Descriptor:
    """The entry of ``index`` dockerd would pull for the platform, best match first.

    Entries without a platform match last (as in dockerd); attestations and entries of media
    types that are not manifests are skipped.
    """
    host = Platform(os or "linux", architecture or "amd64", variant if architecture else "")
    ranked: list[tuple[int, int, Descriptor]] = []
    for position, entry in enumerate(index.manifests):
        if entry.media_type not in mediatypes.MANIFESTS or _is_attestation(entry):
            continue
        if entry.platform is None:
            ranked.append((1 << 30, position, entry))
            continue
        score = rank(host, entry.platform)
        if score is not None:
            ranked.append((score, position, entry))
    if not ranked:
        raise NotFound(f"no matching manifest for {host.format()} in the manifest list entries")
    return min(ranked, key=lambda item: (item[0], item[1]))[2]


def _is_attestation(entry: Descriptor) -> bool:
    if _REFERENCE_TYPE in entry.annotations:
        return True
    platform = entry.platform
    return platform is not None and platform.os == "unknown" and platform.architecture == "unknown"
