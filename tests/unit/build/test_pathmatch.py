"""engine.build.pathmatch: Go's path.Clean and filepath.Match, which Dockerfile paths follow."""

from __future__ import annotations

import pytest

from engine.build.pathmatch import BadPattern, clean, contains_wildcards, match, validate

# Go's own table (path/filepath/match_test.go).
GO_MATCH_TESTS = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-\u03b6]*", "\u03b1", True),  # [a-zeta] matches alpha
    ("*[a-\u03b6]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
]

GO_BAD_PATTERNS = [
    ("[]a]", "]"),
    ("[-]", "-"),
    ("[x-]", "x"),
    ("[x-]", "-"),
    ("[x-]", "z"),
    ("[-x]", "x"),
    ("[-x]", "-"),
    ("[-x]", "a"),
    ("\\", "a"),
    ("[a-b-c]", "a"),
    ("[", "a"),
    ("[^", "a"),
    ("[^bc", "a"),
    ("a[", "a"),
    ("a[", "ab"),
    ("a[", "x"),
    ("a/b[", "x"),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), GO_MATCH_TESTS)
def test_match_agrees_with_go(pattern: str, name: str, expected: bool) -> None:
    assert match(pattern, name) is expected


@pytest.mark.parametrize(("pattern", "name"), GO_BAD_PATTERNS)
def test_a_malformed_pattern_is_reported_whatever_the_name(pattern: str, name: str) -> None:
    with pytest.raises(BadPattern, match="syntax error in pattern"):
        match(pattern, name)
    with pytest.raises(BadPattern):
        validate(pattern)


def test_validate_accepts_good_patterns() -> None:
    for pattern in ("*.go", "a/[b-d]/?", "\\*", "**/x"):
        validate(pattern)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "."),
        (".", "."),
        ("a/", "a"),
        ("a//b/./c/..", "a/b"),
        ("/../a", "/a"),
        ("//a", "/a"),
        ("../../a", "../../a"),
        ("a/../..", ".."),
        ("/", "/"),
    ],
)
def test_clean_is_gos_path_clean(path: str, expected: str) -> None:
    assert clean(path) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("*.txt", True), ("a?", True), ("[ab]", True), ("plain/name", False), ("a\\*b", False)],
)
def test_contains_wildcards_skips_escaped_characters(name: str, expected: bool) -> None:
    assert contains_wildcards(name) is expected
