"""Here-documents in RUN, COPY and ADD, found and read as buildkit's parser does.

``<<EOF``, ``<<-EOF`` (leading tabs stripped from the body and the delimiter line), a quoted
delimiter (``<<"EOF"``, ``<<'EOF'``: the body is not expanded), an optional file descriptor
(``3<<EOF``) and several on one line (``COPY <<a <<b /dest/``), whose bodies follow in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.build.shell_lex import ShellLex, ShellLexError

_MARKER = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_RAW_LEX = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
_PLAIN_LEX = ShellLex("\\", skip_unset_env=True)
_QUOTED_LEX = ShellLex("\\", raw_quotes=True, skip_unset_env=True)


@dataclass(frozen=True)
class HeredocMarker:
    name: str  # the delimiter, quotes removed
    chomp: bool  # <<- : leading tabs go
    expand: bool  # no part of the delimiter was quoted


def heredoc_word(word: str) -> HeredocMarker | None:
    """The here-document ``word`` opens (``<<EOF``, ``<<-"EOF"`` ...), or None."""
    match = _MARKER.fullmatch(word)
    if match is None or not match.group(3):
        return None
    delimiter = match.group(3)
    try:
        plain = _PLAIN_LEX.process_words(delimiter, {})
        if len(plain) != 1:
            return None
        quoted = _QUOTED_LEX.process_words(delimiter, {})
    except ShellLexError as exc:
        raise ValueError(str(exc)) from None
    # Quotes that disappear when quotes are processed mean part of the delimiter was quoted.
    expand = _quotes(plain[0]) == _quotes(quoted[0])
    return HeredocMarker(plain[0], match.group(2) == "-", expand)


def _quotes(text: str) -> int:
    return text.count("'") + text.count('"')


def heredocs_in_line(line: str) -> list[HeredocMarker]:
    """The here-documents an instruction's line opens, in order. A line the shell lexer can
    not split (an unbalanced quote) opens none, as in buildkit."""
    try:
        found = _RAW_LEX.process_words(line, {})
    except ShellLexError:
        return []
    return [marker for word in found if (marker := heredoc_word(word)) is not None]


def read_heredocs(
    markers: list[HeredocMarker], lines: list[str], index: int
) -> tuple[list[tuple[str, str]], int]:
    """Each body as written and as the builder uses it (tabs stripped for ``<<-``), read from
    ``lines[index:]``; and the index of the first line after the last delimiter."""
    bodies: list[tuple[str, str]] = []
    for marker in markers:
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise ValueError("unterminated heredoc")
            raw = lines[index]
            index += 1
            candidate = raw.rstrip("\r\n")
            if marker.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == marker.name:
                break
            body.append(raw)
        text = "".join(body)
        bodies.append((text, _LEADING_TABS.sub("", text) if marker.chomp else text))
    return bodies, index
