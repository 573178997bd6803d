"""Shell patterns of ``${VAR#pattern}``, ``${VAR%pattern}`` and ``${VAR/pattern/text}``, as
buildkit matches them: ``*`` any run, ``?`` one character, no bracket expressions."""

from __future__ import annotations

import re


class ShellPatternError(ValueError):
    def __init__(self, pattern: str, message: str) -> None:
        super().__init__(message)
        self.pattern = pattern


def shell_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A ``${VAR#pattern}`` pattern as a regex: ``*`` any run, ``?`` one character, ``\\``
    escapes ``*``, ``?`` and itself, and drops before ``}`` and ``/``; no bracket
    expressions."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            if i < len(pattern) and pattern[i] in "}/":
                continue
            escaped = pattern[i] if i < len(pattern) else ""
            i += 1
            if escaped not in ("*", "?", "\\"):
                raise ShellPatternError(pattern, f"invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out))


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = shell_pattern(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match only, so the shortest suffix is found as the
    # shortest prefix of the reversed text.
    return trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape before the character it escapes."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i != len(pattern) - 1:
            out.append(pattern[i : i + 2])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(reversed(out))


def replace_every(regex: re.Pattern[str], value: str, replacement: str) -> str:
    """Go's ``ReplaceAllString``: an empty match right after a match is not replaced (Python's
    ``re.sub`` replaces it)."""
    out: list[str] = []
    last_end = 0
    search = 0
    while search <= len(value):
        match = regex.search(value, search)
        if match is None:
            break
        out.append(value[last_end : match.start()])
        if match.end() > last_end or match.start() == 0:
            out.append(replacement)
        last_end = match.end()
        search = max(search + 1, match.end())
    out.append(value[last_end:])
    return "".join(out)
