"""cosign's simple-signing payload: what a signature says about an image, and where it lives.

The payload is the JSON that sigstore/sigstore ``pkg/signature/payload/payload.go``
(``Cosign.SimpleContainerImage``) marshals with Go's ``encoding/json``: fields in struct
order, no spaces, and ``"optional":null`` when the signer adds no annotations. cosign signs
exactly these bytes (``cmd/cosign/cli/sign/sign.go``, ``signDigest``), so producing the same
bytes keeps Doca's signatures indistinguishable from cosign's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

SIGNATURE_TYPE = "cosign container image signature"
# go-containerregistry names Docker Hub's repositories after the index host.
HUB_DOMAIN = "docker.io"
HUB_REFERENCE_DOMAIN = "index.docker.io"
# sigstore's payload and cosign's tags only ever carry sha256 digests today.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
# A repository name as the reference grammar allows it: nothing Go's encoder would escape.
_REFERENCE = re.compile(r"[A-Za-z0-9._:/\[\]-]+", re.ASCII)
MAX_PAYLOAD_SIZE = 1 << 20


class PayloadError(ValueError):
    """A payload that is not a cosign simple-signing document."""


@dataclass(frozen=True)
class Claim:
    """What a verified payload asserts: this repository's image has this manifest digest."""

    docker_reference: str
    manifest_digest: str


def check_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise PayloadError(f"not a sha256 manifest digest: {digest[:80]!r}")
    return digest


def docker_reference(domain: str, path: str) -> str:
    """The repository as go-containerregistry's ``Repository.Name()`` spells it, which is
    what cosign writes as ``docker-reference``: Docker Hub's as ``index.docker.io/…``."""
    return f"{HUB_REFERENCE_DOMAIN if domain == HUB_DOMAIN else domain}/{path}"


def simple_signing_payload(reference: str, digest: str) -> bytes:
    """The bytes cosign signs for ``reference`` (a repository name) at manifest ``digest``."""
    if not _REFERENCE.fullmatch(reference):
        raise PayloadError(f"not a repository name: {reference[:200]!r}")
    check_digest(digest)
    return (
        b'{"critical":{"identity":{"docker-reference":"' + reference.encode() + b'"},'
        b'"image":{"docker-manifest-digest":"' + digest.encode() + b'"},'
        b'"type":"' + SIGNATURE_TYPE.encode() + b'"},"optional":null}'
    )


def read_claim(raw: bytes) -> Claim:
    """The claim of a payload; PayloadError when it is not a cosign container signature.

    Only the digest binds the signature to an image: cosign ignores ``docker-reference``
    when verifying (SIGNATURE_SPEC.md, "Simple Signing"), so images copied between
    repositories keep their signatures.
    """
    if len(raw) > MAX_PAYLOAD_SIZE:
        raise PayloadError(f"payload of {len(raw)} bytes is too large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None
    critical = body.get("critical") if isinstance(body, dict) else None
    if not isinstance(critical, dict):
        raise PayloadError("payload has no critical section")
    if critical.get("type") != SIGNATURE_TYPE:
        raise PayloadError(f"payload is of an unknown type: {str(critical.get('type'))[:100]!r}")
    identity, image = critical.get("identity"), critical.get("image")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(digest, str) or not digest:
        raise PayloadError("payload names no docker-manifest-digest")
    return Claim(reference if isinstance(reference, str) else "", digest)


def signature_tag(digest: str) -> str:
    """``sha256:abc…`` → ``sha256-abc….sig``, the tag cosign stores signatures under
    (cosign ``pkg/oci/remote/remote.go``, ``SignatureTag`` and ``normalize``)."""
    algorithm, _, hex_digest = check_digest(digest).partition(":")
    return f"{algorithm}-{hex_digest}.sig"
