"""``WWW-Authenticate`` challenges (RFC 7235): ``Bearer realm="…",service="…",scope="…"``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_HEADER = 8192


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-cased: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)  # keys lower-cased


def parse_www_authenticate(headers: Iterable[str]) -> list[Challenge]:
    """All challenges in the given header values; malformed parts are skipped, not fatal."""
    challenges: list[Challenge] = []
    for header in headers:
        challenges.extend(_parse_one(header[:_MAX_HEADER]))
    return challenges


def _parse_one(text: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    pos = 0
    current: Challenge | None = None
    while pos < len(text):
        pos = _skip(text, pos, " \t,")
        token = _TOKEN.match(text, pos)
        if token is None:
            # Garbage: drop the rest of this header value rather than guess.
            break
        end = _skip(text, token.end(), " \t")
        if end < len(text) and text[end] == "=" and current is not None:
            value, pos = _value(text, _skip(text, end + 1, " \t"))
            current.params[token.group().lower()] = value
            continue
        current = Challenge(token.group().lower())
        challenges.append(current)
        pos = token.end()
    return challenges


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        out = []
        pos += 1
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
            out.append(text[pos])
            pos += 1
        return "".join(out), pos + 1
    # Unquoted values should be tokens, but realms are often bare URLs: take up to a separator.
    end = pos
    while end < len(text) and text[end] not in ", \t":
        end += 1
    return text[pos:end], end
