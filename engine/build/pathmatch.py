"""Go's ``path.Clean`` and ``path/filepath.Match``, which Dockerfile sources and .dockerignore
patterns are written against.

Python's fnmatch differs in ways a user notices: its ``*`` crosses ``/``, ``[!a]`` negates where
Go wants ``[^a]``, and it never reports a malformed pattern. This is a port of Go's matcher on
Unix (``\\`` escapes, ``/`` is the separator), including its syntax checks.
"""

from __future__ import annotations

BAD_PATTERN = "syntax error in pattern"  # Go's filepath.ErrBadPattern


class BadPattern(ValueError):
    """The pattern is malformed (Go's filepath.ErrBadPattern)."""

    def __init__(self) -> None:
        super().__init__(BAD_PATTERN)


def clean(path: str) -> str:
    """Go's ``path.Clean``: the shortest equivalent path, lexically; ``""`` is ``"."``."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def contains_wildcards(name: str) -> bool:
    """Whether a COPY/ADD source is a pattern, as dockerd's containsWildcards decides."""
    i = 0
    while i < len(name):
        if name[i] == "\\":
            i += 1
        elif name[i] in "*?[":
            return True
        i += 1
    return False


def match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match``; raises BadPattern for a malformed pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it crosses a /
        rest = _match_chunk(chunk, name)
        # The last chunk must use up the name; otherwise the star may still match more.
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            matched = False
            for i in range(len(name)):
                if name[i] == "/":
                    break
                rest = _match_chunk(chunk, name[i + 1 :])
                if rest is not None:
                    if not pattern and rest:
                        continue
                    name, matched = rest, True
                    break
            if matched:
                continue
        # Before answering no, check that the rest of the pattern is well-formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def validate(pattern: str) -> None:
    """Raise BadPattern if ``pattern`` is malformed."""
    match(pattern, ".")


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """The next run of non-star terms, and whether stars precede it."""
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> str | None:
    """What is left of ``s`` after ``chunk`` matched its start, or None.

    After a mismatch the chunk is still parsed to the end so that a malformed pattern is
    reported however the name compares.
    """
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        head = chunk[0]
        if head == "[":
            char = ""
            if not failed:
                char, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= char <= hi:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif head == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _get_esc(chunk: str) -> tuple[str, str]:
    """A possibly escaped character of a character class, and the rest of the chunk."""
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    char, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPattern()
    return char, rest
