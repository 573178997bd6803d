"""Signing keys: ECDSA P-256 in PEM, as cosign's ``--key`` files hold them.

Public keys are PKIX ``PUBLIC KEY`` blocks (what ``cosign generate-key-pair`` writes to
``cosign.pub``). Private keys are unencrypted PKCS#8 or SEC1 PEM; cosign's own
``ENCRYPTED SIGSTORE PRIVATE KEY`` files are sealed with NaCl secretbox, which the
``cryptography`` package does not offer, so they are refused with a hint instead
(``cosign import-key-pair`` turns a Doca key into one cosign signs with).

cryptography is imported where keys are read: the configuration imports this module, and an
engine without a trust policy should not pay for it at start-up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

COSIGN_ENCRYPTED = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"


class KeyError_(ValueError):
    """A key file that is not an ECDSA P-256 key Doca can use."""


@dataclass(frozen=True)
class PublicKey:
    """A trusted key: where it came from, and its SubjectPublicKeyInfo (which equality uses)."""

    name: str
    der: bytes
    key: ec.EllipticCurvePublicKey = field(compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        """``sha256:`` and the first 16 hex digits of the key's SubjectPublicKeyInfo hash."""
        return "sha256:" + hashlib.sha256(self.der).hexdigest()[:16]


def load_public_key(pem: bytes, name: str) -> PublicKey:
    """A PEM public key, which must be ECDSA on P-256; KeyError_ names ``name`` otherwise."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyError_(f"{name}: not a PEM public key ({_first_line(exc)})") from None
    public = _p256_public(key, name)
    return PublicKey(name, _spki(public), public)


def load_private_key(pem: bytes, name: str) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, unencrypted, ECDSA on P-256."""
    if COSIGN_ENCRYPTED in pem:
        raise KeyError_(
            f"{name}: cosign's encrypted key format is not supported; use a PEM key "
            "(doca trust keygen writes one, and cosign import-key-pair accepts it)"
        )
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise KeyError_(f"{name}: the key is encrypted; use an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyError_(f"{name}: not a PEM private key ({_first_line(exc)})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyError_(f"{name}: not an ECDSA P-256 key")
    return key


def public_key_of(private: ec.EllipticCurvePrivateKey, name: str) -> PublicKey:
    public = private.public_key()
    return PublicKey(name, _spki(public), public)


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new P-256 key pair as (PKCS#8 private PEM, PKIX public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def _p256_public(key: object, name: str) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyError_(f"{name}: not an ECDSA P-256 public key")
    return key


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or ["unreadable"])[0][:200]
