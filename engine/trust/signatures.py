"""Making and checking one signature: ECDSA P-256 over SHA-256 of the payload, ASN.1 DER,
base64 (standard alphabet, padded) as cosign stores it.

cosign verifies with sigstore's ``ECDSAVerifier`` (``ecdsa.VerifyASN1`` over the SHA-256
of the payload) after base64-decoding the ``dev.cosignproject.cosign/signature`` annotation
(cosign ``pkg/cosign/verify.go``, ``verifyOCISignature``).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from engine.trust.keys import PublicKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# A DER ECDSA P-256 signature is at most 72 bytes; anything far bigger is not one.
_MAX_SIGNATURE_TEXT = 512


def sign_payload(private: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """The base64 signature of ``payload``, ready for the signature annotation."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    der = private.sign(payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def signature_valid(key: PublicKey, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``key``'s signature of ``payload``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(signature) > _MAX_SIGNATURE_TEXT:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
