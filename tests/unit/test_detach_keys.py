"""Detach key parsing and matching."""

from __future__ import annotations

import pytest

from engine.containers.detach_keys import DetachMatcher, parse_detach_keys
from engine.errors import InvalidParameter


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, b"\x10\x11"),
        ("ctrl-p,ctrl-q", b"\x10\x11"),
        ("ctrl-a,x", b"\x01x"),
        ("ctrl-@", b"\x00"),
        ("ctrl-[", b"\x1b"),
        ("ctrl-_", b"\x1f"),
    ],
)
def test_parse(spec: str | None, expected: bytes) -> None:
    assert parse_detach_keys(spec) == expected


@pytest.mark.parametrize("spec", ["ctrl-", "ctrl-1", "alt-x", "xy"])
def test_parse_refuses_unknown_keys(spec: str) -> None:
    with pytest.raises(InvalidParameter, match="Unknown character"):
        parse_detach_keys(spec)


def test_matcher_passes_other_input_and_holds_partial_matches() -> None:
    matcher = DetachMatcher(b"\x10\x11")
    assert matcher.feed(b"ls\r") == (b"ls\r", False)
    assert matcher.feed(b"a\x10") == (b"a", False)  # the ctrl-p is held back
    assert matcher.feed(b"b") == (b"\x10b", False)  # not followed by ctrl-q: released
    assert matcher.feed(b"\x10") == (b"", False)
    assert matcher.feed(b"\x11rest") == (b"", True)
