"""Detach keys: the key sequence (``ctrl-p,ctrl-q`` by default) that ends an attached session
without stopping the container, spelt and matched as dockerd does."""

from __future__ import annotations

from engine.errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"


def parse_detach_keys(spec: str | None) -> bytes:
    """``ctrl-p,ctrl-q`` → b"\\x10\\x11"; ``a`` stays ``a``; ``ctrl-@`` is NUL, ``ctrl-[`` ESC…"""
    keys = bytearray()
    for key in (spec or DEFAULT).split(","):
        if len(key) == 1:
            keys.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6:
            char = key[5].lower()
            if "a" <= char <= "z":
                keys.append(ord(char) - ord("a") + 1)
            elif char in "@[\\]^_":
                keys.append("@[\\]^_".index(char) + (0 if char == "@" else 26))
            else:
                raise InvalidParameter(f"Unknown character: '{key}'")
        else:
            raise InvalidParameter(f"Unknown character: '{key}'")
    return bytes(keys)


class DetachMatcher:
    """Feeds stdin through; holds back a partial match, and reports a full one."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to pass on, whether the detach sequence was typed)."""
        out = bytearray()
        for byte in data:
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self._held = b""
                    return bytes(out), True
                self._held = candidate
            else:
                out += candidate
                self._held = b""
        return bytes(out), False
