"""Content digests as registries spell them (``sha256:<64 hex>``) and a streaming verifier."""

from __future__ import annotations

import hashlib
import re

from engine.errors import InvalidParameter

# Only sha256 is accepted: it is what every registry serves and what the content store keys on.
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def is_digest(value: str) -> bool:
    return _DIGEST.fullmatch(value) is not None


def validate_digest(value: object) -> str:
    """``value`` if it is a well-formed sha256 digest, else InvalidParameter."""
    if not isinstance(value, str) or not is_digest(value):
        shown = value if isinstance(value, str) else type(value).__name__
        raise InvalidParameter(f"invalid digest {shown[:100]!r}: expected sha256:<64 hex digits>")
    return value


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class DigestVerifier:
    """Hashes bytes as they stream past and checks them against the expected digest at the end."""

    def __init__(self, expected: str) -> None:
        self.expected = validate_digest(expected)
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def verify(self) -> None:
        """Raise InvalidParameter ``digest mismatch`` when the bytes seen do not hash to it."""
        if self.digest != self.expected:
            raise InvalidParameter(
                f"digest mismatch: expected {self.expected}, got {self.digest} ({self.size} bytes)"
            )
