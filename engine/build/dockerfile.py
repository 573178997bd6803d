"""A Dockerfile as a list of instructions: buildkit's ``frontend/dockerfile/parser`` plus the
checks its ``instructions`` package makes before anything is built.

Parser directives (``# escape=```, ``# syntax=``, ``# check=``) count only at the top; comment
lines are dropped, also inside a continued instruction; the escape character at the end of a
line continues it; RUN, COPY and ADD take here-documents. Arguments stay as written (quotes,
escapes, ``$VAR``): the builder substitutes them with each stage's variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.build.dockerfile_checks import check
from engine.build.dockerfile_flags import FlagValue, parse_flag_words
from engine.build.dockerfile_heredocs import HeredocMarker, heredocs_in_line, read_heredocs
from engine.build.dockerfile_words import (
    fields,
    health_args,
    json_array,
    name_values,
    split_command,
    words,
)
from engine.build.shell_lex import WHITESPACE

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Heredoc",
    "Instruction",
    "arg_definitions",
    "fields",
    "key_values",
    "parse",
    "parse_flags",
    "words",
]

_EXEC_FORM = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_WITH_HEREDOCS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
_DIRECTIVES = ("syntax", "escape", "check")


@dataclass(frozen=True)
class Heredoc:
    name: str  # the delimiter word, quotes removed
    content: str  # the body, each line with its line ending; leading tabs gone for <<-
    expand: bool  # False when the delimiter was quoted: no $VAR substitution in the body


@dataclass
class Instruction:
    keyword: str  # upper case
    line: int  # 1-based first line
    end_line: int  # last line, here-document bodies included
    original: str  # the joined text, as "Step 2/5 : RUN echo hi" shows it
    flags: list[str]  # leading --name=value words (quotes removed, no substitution)
    # After the keyword and flags, stripped, as written. For ONBUILD the whole trigger,
    # here-document bodies included, ready for parse() when the trigger fires.
    rest: str
    json: list[str] | None  # the exec form's strings (RUN CMD ENTRYPOINT SHELL COPY ADD VOLUME)
    heredocs: list[Heredoc] = field(default_factory=list)  # RUN, COPY, ADD
    escape: str = "\\"  # the file's escape character, for splitting ``rest`` into words


@dataclass
class Dockerfile:
    escape: str
    instructions: list[Instruction]
    warnings: list[str]  # buildkit's, e.g. "Empty continuation line found in: RUN a b"


class DockerfileError(ValueError):
    """A Dockerfile the builder refuses; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {message}")
        self.line = line
        self.message = message


class _Directives:
    """The escape character and what continues a line; directives end at the first line
    that is not one (a blank line, another comment, an instruction)."""

    def __init__(self) -> None:
        self.done = False
        self.seen: set[str] = set()
        self.set_escape("\\")

    def set_escape(self, escape: str) -> None:
        if escape not in ("`", "\\"):
            raise ValueError(f"invalid escape token '{escape}' does not match ` or \\")
        self.escape = escape
        e = re.escape(escape)
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def look_at(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.fullmatch(line[1:].lstrip(WHITESPACE)) if line[:1] == "#" else None
        name = match.group(1).lower() if match else ""
        if name not in _DIRECTIVES:
            self.done = True
            return
        if name in self.seen:
            raise ValueError(f"only one {name} parser directive can be used")
        self.seen.add(name)
        if name == "escape" and match is not None:
            self.set_escape(match.group(2))

    def cut_continuation(self, line: str) -> tuple[str, bool]:
        """The line without a trailing escape character, and whether the instruction ends."""
        if self.continuation.search(line):
            return self.continuation.sub(r"\1", line), False
        return line, True


def _is_comment(line: str) -> bool:
    return line.lstrip(WHITESPACE)[:1] == "#"


def _split_lines(text: str) -> list[str]:
    """Lines with their endings; only "\\n" ends a line, a trailing "\\r" is stripped later."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def parse(text: str | bytes) -> Dockerfile:
    """Parse and check a whole Dockerfile (or an ONBUILD trigger); ``DockerfileError``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = _split_lines(text.removeprefix("\ufeff"))
    directives = _Directives()
    instructions: list[Instruction] = []
    warnings: list[str] = []
    index = 0

    def take(strip_left: bool) -> str:
        nonlocal index
        raw = lines[index]
        index += 1
        token = raw.rstrip("\r\n")
        if strip_left:
            token = token.lstrip(WHITESPACE)
        try:
            directives.look_at(token)
        except ValueError as exc:
            raise DockerfileError(index, str(exc)) from None
        return "" if _is_comment(token) else token

    while index < len(lines):
        token, ended = directives.cut_continuation(take(strip_left=True))
        start = index
        if ended and not token:
            continue
        parts = [token]
        empty_continuation = False
        while not ended and index < len(lines):
            raw = lines[index]
            token = take(strip_left=False)
            if _is_comment(raw):
                continue
            if not token.lstrip(WHITESPACE):
                empty_continuation = True
                continue
            token, ended = directives.cut_continuation(token)
            parts.append(token)
        line = "".join(parts)
        if empty_continuation:
            warnings.append("Empty continuation line found in: " + line)
        try:
            inst = _instruction(line, directives.escape, start)
            if _takes_heredocs(inst, directives.escape) and "<<" in line:
                index = _attach_heredocs(inst, heredocs_in_line(line), lines, index)
        except ValueError as exc:
            raise DockerfileError(start, str(exc)) from None
        inst.end_line = index
        instructions.append(inst)
    if not instructions:
        raise DockerfileError(len(lines), "file with no instructions")
    for inst in instructions:
        try:
            check(inst)
        except ValueError as exc:
            raise DockerfileError(inst.line, str(exc)) from None
    return Dockerfile(directives.escape, instructions, warnings)


def _instruction(line: str, escape: str, number: int) -> Instruction:
    """One instruction from its joined line; the parser's own errors (bad JSON arrays,
    ENV without a value ...) come out as ``ValueError``."""
    written, flags, rest = split_command(line, escape)
    keyword = written.upper()
    exec_form = json_array(rest) if keyword in _EXEC_FORM and rest else None
    if keyword in ("ENV", "LABEL"):
        name_values(rest, keyword, escape)
    elif keyword == "HEALTHCHECK":
        health_args(rest)
    elif keyword == "ONBUILD" and rest:
        _instruction(rest, escape, number)
    original = line.strip(WHITESPACE)
    return Instruction(keyword, number, number, original, flags, rest, exec_form, [], escape)


def _takes_heredocs(inst: Instruction, escape: str) -> bool:
    if inst.keyword == "ONBUILD" and inst.rest:
        inst = _instruction(inst.rest, escape, inst.line)
    return inst.keyword in _WITH_HEREDOCS and inst.json is None


def _attach_heredocs(
    inst: Instruction, found: list[HeredocMarker], lines: list[str], index: int
) -> int:
    """Read the bodies of the here-documents the line opened; the index after them."""
    bodies, index = read_heredocs(found, lines, index)
    if inst.keyword == "ONBUILD":
        # The trigger is stored as text and parsed again when it fires: keep its bodies.
        inst.rest += "".join(
            f"\n{raw}{doc.name}" for doc, (raw, _) in zip(found, bodies, strict=True)
        )
    else:
        inst.heredocs = [
            Heredoc(doc.name, content, doc.expand)
            for doc, (_, content) in zip(found, bodies, strict=True)
        ]
    return index


def parse_flags(inst: Instruction, allowed: dict[str, type]) -> dict[str, FlagValue]:
    """The flags given to ``inst``, checked against ``allowed`` (name -> ``str``, ``bool`` or
    ``list``); only flags that were given appear. ``DockerfileError`` on a bad flag."""
    try:
        return parse_flag_words(inst.flags, allowed)
    except ValueError as exc:
        raise DockerfileError(inst.line, str(exc)) from None


def key_values(inst: Instruction) -> list[tuple[str, str]]:
    """ENV/LABEL pairs as written (``A=1 B='x y'``, or legacy ``ENV A some value``); for ARG
    the value of a name without a default is ""."""
    if inst.keyword == "ARG":
        return [(name, value or "") for name, value in arg_definitions(inst)]
    try:
        return name_values(inst.rest, inst.keyword, inst.escape)
    except ValueError as exc:
        raise DockerfileError(inst.line, str(exc)) from None


def arg_definitions(inst: Instruction) -> list[tuple[str, str | None]]:
    """ARG's names with their default as written, None where there is none."""
    definitions: list[tuple[str, str | None]] = []
    for word in words(inst.rest, inst.escape):
        name, has_default, default = word.partition("=")
        if not name:
            raise DockerfileError(inst.line, "ARG names can not be blank")
        definitions.append((name, default if has_default else None))
    return definitions
