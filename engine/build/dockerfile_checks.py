"""What buildkit's ``instructions.Parse`` refuses before a build starts: unknown
instructions and flags, missing arguments, bad stage names, forbidden ONBUILD triggers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.build.dockerfile_flags import KNOWN_FLAGS, parse_flag_words, with_suggestion
from engine.build.dockerfile_heredocs import heredoc_word
from engine.build.dockerfile_words import fields, health_args, name_values, split_command, words
from engine.build.shell_lex import WHITESPACE, go_quote

if TYPE_CHECKING:
    from engine.build.dockerfile import Instruction

KEYWORDS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN "
    "SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")


def check(inst: Instruction) -> None:
    """What buildkit's ``instructions.Parse`` refuses before the build starts."""
    kw = inst.keyword
    if kw not in KEYWORDS:
        written = split_command(inst.original, inst.escape)[0]
        message = f"unknown instruction: {written}"
        raise ValueError(with_suggestion(message, written, sorted(KEYWORDS), fold=True))
    if kw in ("ENV", "LABEL"):
        parse_flag_words(inst.flags, {})
        pairs = name_values(inst.rest, kw, inst.escape)
        if not pairs:
            raise ValueError(f"{kw} requires at least one argument")
        if any(not name for name, _ in pairs):
            raise ValueError(f"{kw} names can not be blank")
    elif kw in ("MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"):
        if not inst.rest:
            raise ValueError(f"{kw} requires exactly one argument")
        if kw != "STOPSIGNAL":  # buildkit never looks at STOPSIGNAL's flags
            parse_flag_words(inst.flags, {})
    elif kw in ("COPY", "ADD"):
        args = inst.json if inst.json is not None else fields(inst.rest)
        if len(args) < 2:
            raise ValueError(
                f"{kw} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
        parse_flag_words(inst.flags, KNOWN_FLAGS[kw])
        if _opens_heredoc(args[-1]):
            raise ValueError(f"{kw} cannot accept a heredoc as a destination")
    elif kw == "FROM":
        _check_from(inst)
    elif kw == "ONBUILD":
        _check_onbuild(inst)
    elif kw in ("RUN", "CMD", "ENTRYPOINT"):
        parse_flag_words(inst.flags, KNOWN_FLAGS.get(kw, {}))
    elif kw == "HEALTHCHECK":
        _check_healthcheck(inst)
    elif kw in ("EXPOSE", "VOLUME"):
        args = inst.json if inst.json is not None else fields(inst.rest)
        if not args:
            raise ValueError(f"{kw} requires at least one argument")
        parse_flag_words(inst.flags, {})
        if kw == "VOLUME" and any(not arg.strip(WHITESPACE) for arg in args):
            raise ValueError("VOLUME specified can not be an empty string")
    elif kw == "ARG":
        args = words(inst.rest, inst.escape)
        if not args:
            raise ValueError("ARG requires at least one argument")
        if any(arg.startswith("=") for arg in args):
            raise ValueError("ARG names can not be blank")
    elif kw == "SHELL":
        parse_flag_words(inst.flags, {})
        if not (inst.json if inst.json is not None else inst.rest):
            raise ValueError("SHELL requires at least one argument")
        if inst.json is None:
            raise ValueError("SHELL requires the arguments to be in JSON form")


def _opens_heredoc(word: str) -> bool:
    try:
        return heredoc_word(word) is not None
    except ValueError:
        return False


def _check_from(inst: Instruction) -> None:
    args = fields(inst.rest)
    if len(args) == 3 and args[1].lower() == "as":
        if not _STAGE_NAME.fullmatch(args[2].lower()):
            raise ValueError(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise ValueError("FROM requires either one or three arguments")
    parse_flag_words(inst.flags, KNOWN_FLAGS["FROM"])


def _check_onbuild(inst: Instruction) -> None:
    if not inst.rest:
        raise ValueError("ONBUILD requires at least one argument")
    parse_flag_words(inst.flags, {})
    trigger = split_command(inst.rest, inst.escape)[0].upper()
    if trigger == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise ValueError(f"{trigger} isn't allowed as an ONBUILD trigger")


def _check_healthcheck(inst: Instruction) -> None:
    kind, exec_form, command = health_args(inst.rest)
    if not kind:
        raise ValueError("HEALTHCHECK requires at least one argument")
    kind = kind.upper()
    has_command = bool(exec_form) if exec_form is not None else bool(command)
    if kind == "NONE":
        if has_command:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return
    parse_flag_words(inst.flags, KNOWN_FLAGS["HEALTHCHECK"])
    if kind != "CMD":
        raise ValueError(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    if not has_command:
        raise ValueError("Missing command after HEALTHCHECK CMD")
