"""Variable substitution in compose files, with Compose v2's syntax: ``$VAR``, ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``, ``${VAR?err}``, ``${VAR:+alt}``,
``${VAR+alt}`` and ``$$`` for a literal ``$``; defaults may themselves hold substitutions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A malformed expression or a required variable without a value."""


def interpolate(
    text: str, env: Mapping[str, str], on_missing: Callable[[str], None] | None = None
) -> str:
    """``text`` with every substitution made from ``env``; ``on_missing`` hears of each variable
    used without a value and without a default (Compose warns and uses an empty string)."""
    out, _ = _substitute(text, 0, env, on_missing, closing=False)
    return out


def _substitute(
    text: str,
    pos: int,
    env: Mapping[str, str],
    on_missing: Callable[[str], None] | None,
    closing: bool,
) -> tuple[str, int]:
    """Substitute from ``pos`` to the end, or (``closing``) to the ``}`` that ends a braced
    expression's default; (result, position after it)."""
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if closing and char == "}":
            return "".join(out), pos
        if char != "$":
            out.append(char)
            pos += 1
            continue
        following = text[pos + 1 : pos + 2]
        if following == "$":
            out.append("$")
            pos += 2
        elif following == "{":
            value, pos = _braced(text, pos + 2, env, on_missing)
            out.append(value)
        elif match := _NAME.match(text, pos + 1):
            out.append(_lookup(match.group(), env, on_missing))
            pos = match.end()
        else:
            raise InterpolationError(f'invalid interpolation format for "{text}"')
    if closing:
        raise InterpolationError(f'invalid interpolation format for "{text}"')
    return "".join(out), pos


def _braced(
    text: str,
    pos: int,
    env: Mapping[str, str],
    on_missing: Callable[[str], None] | None,
) -> tuple[str, int]:
    """One ``${...}`` whose name starts at ``pos``; (value, position after the ``}``)."""
    match = _NAME.match(text, pos)
    if not match:
        raise InterpolationError(f'invalid interpolation format for "{text}"')
    name, pos = match.group(), match.end()
    if text[pos : pos + 1] == "}":
        return _lookup(name, env, on_missing), pos + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
    if operator is None:
        raise InterpolationError(f'invalid interpolation format for "{text}"')
    argument, end = _substitute(text, pos + len(operator), env, on_missing, closing=True)
    value = env.get(name)
    # The colon forms treat an empty value as unset.
    present = bool(value) if operator.startswith(":") else value is not None
    kind = operator[-1]
    if kind == "-":
        return (value if present and value is not None else argument), end + 1
    if kind == "+":
        return (argument if present else ""), end + 1
    if not present:
        raise InterpolationError(f"required variable {name} is missing a value: {argument}")
    return value or "", end + 1


def _lookup(name: str, env: Mapping[str, str], on_missing: Callable[[str], None] | None) -> str:
    if name in env:
        return env[name]
    if on_missing:
        on_missing(name)
    return ""
