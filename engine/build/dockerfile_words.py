"""How the Dockerfile parser cuts one instruction's text apart, as buildkit's line parsers do.

Nothing here substitutes variables: words keep their quotes and escapes so the builder can
run them through ``ShellLex`` with the stage's variables, as moby does. Errors are
``ValueError`` with buildkit's wording; the parser adds the line number.
"""

from __future__ import annotations

import json
import re

from engine.build.shell_lex import WHITESPACE, go_quote

# Go's reWhitespace: what separates a keyword from its arguments and FROM's/COPY's words.
_BLANKS = re.compile(r"[\t\v\f\r ]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


def fields(rest: str) -> list[str]:
    """Split at blanks, ignoring quotes (buildkit's ``parseStringsWhitespaceDelimited``: FROM,
    EXPOSE, and the shell form of COPY, ADD and VOLUME)."""
    return [] if not rest else _BLANKS.split(rest)


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    """The keyword as written, its leading ``--flags`` and the rest, stripped."""
    parts = _BLANKS.split(line.strip(WHITESPACE), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = extract_flags(parts[1], escape)
    return parts[0], flags, rest.strip(WHITESPACE)


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading words that start with ``--`` (quotes and escapes removed), and what follows
    them; a lone ``--`` ends the flags."""
    flags: list[str] = []
    word: list[str] = []
    in_word = in_quote = blank_ok = False
    quote = ""
    pos = 0
    while pos <= len(line):
        ch = line[pos] if pos < len(line) else ""
        if not in_word and not in_quote:
            if pos == len(line):
                break
            if ch in WHITESPACE:
                pos += 1
                continue
            if not line.startswith("--", pos):
                return line[pos:], flags
            in_word = True
        if pos == len(line):
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                flags.append(text)
            break
        if in_quote:
            if ch == quote:
                in_quote = False
            else:
                if ch == escape:
                    if pos + 1 == len(line):
                        in_quote = False
                        pos += 1
                        continue
                    pos += 1
                    ch = line[pos]
                word.append(ch)
            pos += 1
            continue
        if ch in WHITESPACE:
            text = "".join(word)
            in_word = False
            if text == "--":
                return line[pos:], flags
            if blank_ok or text:
                flags.append(text)
            word = []
            blank_ok = False
        elif ch in ("'", '"'):
            quote, blank_ok, in_quote = ch, True, True
        elif ch == escape:
            if pos + 1 < len(line):
                pos += 1
                word.append(line[pos])
        else:
            word.append(ch)
        pos += 1
    return "", flags


def words(rest: str, escape: str) -> list[str]:
    """Split at unquoted, unescaped whitespace, keeping quotes and escapes in the words
    (buildkit's ``parseWords``: ENV, LABEL and ARG bodies)."""
    result: list[str] = []
    word: list[str] = []
    in_word = blank_ok = False
    quote = ""  # the open quote, or ""
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        pos += 1
        if not in_word:
            if ch in WHITESPACE:
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos == len(rest):
                    quote = ""
                    continue  # a trailing escape is dropped
                word.append(ch)
                ch = rest[pos]
                pos += 1
            word.append(ch)
            continue
        if ch in WHITESPACE:
            if blank_ok or word:
                result.append("".join(word))
            word, in_word, blank_ok = [], False, False
            continue
        if ch in ("'", '"'):
            quote, blank_ok = ch, True
        elif ch == escape:
            if pos == len(rest):
                continue
            word.append(ch)
            ch = rest[pos]
            pos += 1
        word.append(ch)
    if in_word and (blank_ok or word):
        result.append("".join(word))
    return result


def json_array(rest: str) -> list[str] | None:
    """The exec form's strings, or None when ``rest`` is not a JSON array (the shell form).
    A JSON array holding anything but strings is an error, as in buildkit."""
    text = rest.lstrip(WHITESPACE)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ValueError(NOT_STRING_ARRAY)
    # Go decodes a lone surrogate escape to U+FFFD; a str holding one could not be encoded.
    return [_SURROGATE.sub("\ufffd", item) for item in value]


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def name_values(rest: str, keyword: str, escape: str) -> list[tuple[str, str]]:
    """ENV and LABEL bodies: ``a=1 b="x y"``, or the legacy ``NAME the rest is the value``."""
    parts = words(rest, escape)
    if not parts:
        return []
    if "=" not in parts[0]:
        legacy = _BLANKS.split(rest, maxsplit=1)
        if len(legacy) < 2:
            raise ValueError(f"{keyword} must have two arguments")
        return [(legacy[0], legacy[1])]
    pairs = []
    for word in parts:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        name, _, value = word.partition("=")
        pairs.append((name, value))
    return pairs


def health_args(rest: str) -> tuple[str, list[str] | None, str]:
    """HEALTHCHECK's type word, its command's exec form (or None) and the command text."""
    end = 0
    while end < len(rest) and rest[end] not in WHITESPACE:
        end += 1
    command = rest[end:].lstrip(WHITESPACE)
    return rest[:end], json_array(command) if command else None, command
