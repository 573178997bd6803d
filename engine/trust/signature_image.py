"""The OCI image that holds an image's cosign signatures: one layer per signature.

Layout, as cosign writes it (``pkg/oci/empty/empty.go``, ``pkg/oci/static/signature.go``,
``pkg/oci/static/options.go``, ``pkg/oci/mutate/signatures.go`` on top of go-containerregistry's
``mutate.Append``):

- an OCI image manifest whose config is an OCI image config;
- each layer is a simple-signing payload (media type
  ``application/vnd.dev.cosign.simplesigning.v1+json``), uncompressed, so its diff ID is its
  digest;
- the base64 signature is the layer's ``dev.cosignproject.cosign/signature`` annotation;
- the config lists those diff IDs and one empty history entry per layer, with Go's zero time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
# Go's zero time.Time, which go-containerregistry's empty image leaves in its config.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
# cosign refuses signature images with more layers than this (pkg/oci/mutate/signatures.go).
MAX_SIGNATURES = 1000


class SignatureImageError(ValueError):
    """A ``.sig`` manifest that is not a signature image."""


@dataclass(frozen=True)
class SignatureLayer:
    """One signature: the payload blob it signs, and the layer's annotations."""

    digest: str
    size: int
    signature: str  # base64, as stored
    annotations: dict[str, str] = field(default_factory=dict)
    media_type: str = SIMPLE_SIGNING

    def descriptor(self) -> dict[str, Any]:
        """The layer as go-containerregistry marshals a v1.Descriptor (field order kept)."""
        annotations = {**self.annotations, SIGNATURE_ANNOTATION: self.signature}
        return {
            "mediaType": self.media_type,
            "size": self.size,
            "digest": self.digest,
            "annotations": dict(sorted(annotations.items())),  # Go sorts map keys
        }


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def new_layer(payload: bytes, signature: str) -> SignatureLayer:
    return SignatureLayer(sha256_digest(payload), len(payload), signature)


def signature_layers(raw: bytes) -> list[SignatureLayer]:
    """The signatures a ``.sig`` manifest holds; layers of other kinds (attachments cosign
    does not sign) are skipped."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SignatureImageError(f"signature manifest is not JSON: {exc}") from None
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list):
        raise SignatureImageError("signature manifest has no layers")
    if len(layers) > MAX_SIGNATURES:
        raise SignatureImageError(f"signature manifest has {len(layers)} layers")
    found = []
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING:
            continue
        annotations = layer.get("annotations")
        if not isinstance(annotations, dict):
            continue
        signature = annotations.get(SIGNATURE_ANNOTATION)
        digest, size = layer.get("digest"), layer.get("size")
        if not isinstance(signature, str) or not signature:
            continue
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise SignatureImageError(f"signature layer has an invalid digest {digest!r:.100}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise SignatureImageError(f"signature layer has an invalid size {size!r:.100}")
        kept = {
            str(k): v
            for k, v in annotations.items()
            if k != SIGNATURE_ANNOTATION and isinstance(v, str)
        }
        found.append(SignatureLayer(digest, size, signature, kept))
    return found


def signature_config(layers: Sequence[SignatureLayer]) -> bytes:
    """The image config cosign's ``mutate.Append`` leaves for these layers."""
    config = {
        "architecture": "",
        "created": GO_ZERO_TIME,
        "history": [{"created": GO_ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "config": {},
    }
    return orjson.dumps(config)


def signature_manifest(layers: Sequence[SignatureLayer], config: bytes) -> bytes:
    """The OCI manifest of the signature image: ``config`` and one layer per signature."""
    if not layers:
        raise SignatureImageError("a signature image needs at least one signature")
    if len(layers) > MAX_SIGNATURES:
        raise SignatureImageError(f"more than {MAX_SIGNATURES} signatures")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256_digest(config)},
        "layers": [layer.descriptor() for layer in layers],
    }
    return orjson.dumps(manifest)
