"""Layer decompression (gzip with and without ISA-L, zstd, plain) and deterministic gzip."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest

from engine.images import layer_codec
from engine.images.layer_codec import compression_of, gzip_deterministic, open_uncompressed

DATA = os.urandom(300_000) + b"\0" * 2_000_000


def _read(blob: bytes) -> bytes:
    with open_uncompressed(io.BytesIO(blob)) as stream:  # type: ignore[arg-type]
        return stream.read()


def test_gzip_is_deterministic_and_standard() -> None:
    first, second = io.BytesIO(), io.BytesIO()
    digest, size = gzip_deterministic(io.BytesIO(DATA), first)  # type: ignore[arg-type]
    again = gzip_deterministic(io.BytesIO(DATA), second)  # type: ignore[arg-type]
    assert first.getvalue() == second.getvalue()
    assert (digest, size) == again
    assert digest == "sha256:" + hashlib.sha256(first.getvalue()).hexdigest()
    assert size == len(first.getvalue())
    assert gzip.decompress(first.getvalue()) == DATA
    assert first.getvalue()[4:8] == b"\0\0\0\0"  # no timestamp


def test_gzip_reports_input_progress() -> None:
    seen: list[int] = []
    gzip_deterministic(io.BytesIO(DATA), io.BytesIO(), seen.append)  # type: ignore[arg-type]
    assert seen[-1] == len(DATA) and seen == sorted(seen)


@pytest.mark.parametrize("isal", [True, False])
def test_gzip_layers_decompress(isal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    assert layer_codec._isal_gzip() is not None  # a dependency: the fast path must be there
    if not isal:
        monkeypatch.setattr(layer_codec, "_isal_gzip", lambda: None)
    # Two members, as some registries' blobs are: both must be read.
    blob = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert compression_of(blob[:4]) == "gzip"
    assert _read(blob) == DATA


def test_zstd_and_plain_layers_decompress() -> None:
    import zstandard

    frames = zstandard.ZstdCompressor().compress(DATA[:5000])
    frames += zstandard.ZstdCompressor().compress(DATA[5000:])
    assert compression_of(frames[:4]) == "zstd"
    assert _read(frames) == DATA
    assert compression_of(DATA[:4]) == "none"
    assert _read(DATA) == DATA
