"""Which registry a search term names, and the limits dockerd enforces."""

from __future__ import annotations

import pytest

from engine.errors import InvalidParameter
from engine.images.search import check_limit, split_term


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("busybox", (None, "busybox")),
        ("library/busybox", (None, "library/busybox")),
        ("docker.io/busybox", (None, "busybox")),
        ("127.0.0.1:5000/busy", ("127.0.0.1:5000", "busy")),
        ("registry.example.com/team/app", ("registry.example.com", "team/app")),
        ("localhost/x", ("localhost", "x")),
    ],
)
def test_split_term(term: str, expected: tuple[str | None, str]) -> None:
    assert split_term(term) == expected


def test_limits() -> None:
    assert check_limit(None) == 25 and check_limit(0) == 25 and check_limit(100) == 100
    for bad in (-1, 101):
        with pytest.raises(InvalidParameter, match="outside the range"):
            check_limit(bad)
