"""Checking an image's cosign signatures against a set of trusted keys.

A signature counts when, as cosign checks it (``pkg/cosign/verify.go``,
``verifyOCISignature``, and ``pkg/cosign/verifiers.go``, ``SimpleClaimVerifier``), it
verifies with one of the keys and its payload claims exactly the image's manifest digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.trust.fetch import SignatureSource, read_payload, read_signature_layers
from engine.trust.keys import PublicKey
from engine.trust.payload import Claim, PayloadError, read_claim
from engine.trust.signature_image import SignatureLayer
from engine.trust.signatures import signature_valid

NOT_SIGNED = "not signed by a trusted key"


@dataclass(frozen=True)
class Verified:
    key: PublicKey
    layer: SignatureLayer
    claim: Claim


@dataclass
class Report:
    """What the signatures of one manifest digest came to."""

    digest: str
    found: bool = False  # whether the registry has a signature image for the digest
    checked: int = 0
    verified: list[Verified] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def reason(self) -> str:
        """Why no signature counted, in words a user can act on."""
        if not self.found:
            return "no signature exists"
        if not self.checked:
            return "its signature image holds no signature"
        return f"none is valid ({self.details()})"

    def details(self) -> str:
        plural = "s" if self.checked > 1 else ""
        problems = "; ".join(dict.fromkeys(self.problems))
        return f"{self.checked} signature{plural} checked: {problems}"


async def verify_signatures(
    source: SignatureSource,
    repo: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    every: bool = False,
) -> Report:
    """Check the signatures of ``repo@digest``; stop at the first valid one unless ``every``.

    SignatureImageError when the ``.sig`` tag is not a signature image; registry errors
    propagate as the source raises them.
    """
    report = Report(digest)
    layers = await read_signature_layers(source, repo, digest)
    if layers is None:
        return report
    report.found = True
    payloads: dict[str, bytes | PayloadError] = {}
    for layer in layers:
        report.checked += 1
        if layer.digest not in payloads:
            try:
                payloads[layer.digest] = await read_payload(source, repo, layer)
            except PayloadError as exc:
                payloads[layer.digest] = exc
        payload = payloads[layer.digest]
        if isinstance(payload, PayloadError):
            report.problems.append(str(payload))
            continue
        verified = check_layer(layer, payload, digest, keys)
        if isinstance(verified, str):
            report.problems.append(verified)
            continue
        report.verified.append(verified)
        if not every:
            break
    return report


def check_layer(
    layer: SignatureLayer, payload: bytes, digest: str, keys: Sequence[PublicKey]
) -> Verified | str:
    """The key ``layer`` verifies with, or why it does not count."""
    key = next((k for k in keys if signature_valid(k, payload, layer.signature)), None)
    if key is None:
        return NOT_SIGNED
    try:
        claim = read_claim(payload)
    except PayloadError as exc:
        return str(exc)
    if claim.manifest_digest != digest:
        return f"signs {claim.manifest_digest[:80]}, another image"
    return Verified(key, layer, claim)
