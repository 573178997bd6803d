"""Docker's stream multiplexing for connections without a TTY: each chunk is preceded by an
8-byte header — stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, big-endian length."""

from __future__ import annotations

import struct

STDIN = 0
STDOUT = 1
STDERR = 2
_HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 1 << 20


def frame(stream: int, data: bytes) -> bytes:
    """One or more frames carrying ``data`` (split so no frame exceeds ``MAX_FRAME``)."""
    if len(data) <= MAX_FRAME:
        return _HEADER.pack(stream, len(data)) + data
    parts = [data[i : i + MAX_FRAME] for i in range(0, len(data), MAX_FRAME)]
    return b"".join(_HEADER.pack(stream, len(p)) + p for p in parts)


def parse_frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split a buffer into complete frames and the incomplete rest."""
    frames = []
    offset = 0
    while len(buffer) - offset >= _HEADER.size:
        stream, length = _HEADER.unpack_from(buffer, offset)
        end = offset + _HEADER.size + length
        if end > len(buffer):
            break
        frames.append((stream, buffer[offset + _HEADER.size : end]))
        offset = end
    return frames, buffer[offset:]
