"""The functions a ``--format`` template may call: text/template's builtins and the docker CLI's
own (``json``, ``split``, ``join``, ``title``, ``lower``, ``upper``, ``pad``, ``truncate``),
plus the variants a table's header row is rendered with (they leave the header text alone)."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from doca.cli.template_values import NO_VALUE, go_json, go_type, is_true, sprint, sprintf, sprintln

ANY, STRING, INT, STRINGS = "any", "string", "int", "[]string"


class FunctionError(Exception):
    """A function refused its arguments; shown as ``error calling NAME: MESSAGE``."""


@dataclass(frozen=True)
class Function:
    call: Callable[..., object]
    params: tuple[str, ...] = ()
    variadic: str | None = None


# -- comparisons ------------------------------------------------------------------------------
def _kind(value: object) -> str:
    if value is None or value is NO_VALUE:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(left: object, right: object) -> bool:
    kinds = {_kind(left), _kind(right)}
    if len(kinds) > 1 and "nil" not in kinds and "other" not in kinds:
        raise FunctionError("incompatible types for comparison")
    if isinstance(left, list | dict) and isinstance(right, list | dict):
        raise FunctionError(f"non-comparable type {left}: {go_type(left)}")
    return left == right


def eq(first: object, *others: object) -> bool:
    if not others:
        raise FunctionError("missing argument for comparison")
    return any(_equal(first, other) for other in others)


def ne(left: object, right: object) -> bool:
    return not _equal(left, right)


def _ordered(left: object, right: object) -> tuple[float | str, float | str]:
    kind_left, kind_right = _kind(left), _kind(right)
    if kind_left not in ("number", "string") or kind_right not in ("number", "string"):
        raise FunctionError("invalid type for comparison")
    if kind_left != kind_right:
        raise FunctionError("incompatible types for comparison")
    return left, right  # type: ignore[return-value]


def lt(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return a < b  # type: ignore[operator]


def le(left: object, right: object) -> bool:
    a, b = _ordered(left, right)
    return a <= b  # type: ignore[operator]


def gt(left: object, right: object) -> bool:
    return not le(left, right)


def ge(left: object, right: object) -> bool:
    return not lt(left, right)


# -- containers -------------------------------------------------------------------------------
def length(item: object) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, Sequence | Mapping):
        return len(item)
    raise FunctionError(f"len of type {go_type(item)}")


def _int_index(key: object, size: int, cap: int | None = None) -> int:
    if not isinstance(key, int) or isinstance(key, bool):
        raise FunctionError(f"cannot index slice/array with type {go_type(key)}")
    if key < 0 or key >= (size if cap is None else cap + 1):
        raise FunctionError(f"index out of range: {key}")
    return key


def index(item: object, *keys: object) -> object:
    """index x k1 k2: a map's entry (a missing one is the map's zero value) or a list's item."""
    for key in keys:
        if item is None or item is NO_VALUE:
            raise FunctionError("index of untyped nil")
        if isinstance(item, Mapping):
            if not isinstance(key, str):
                raise FunctionError(f"value has type {go_type(key)}; should be string")
            if key in item:
                item = item[key]
            else:
                # A map of strings (labels, options) gives "", as the typed map would.
                item = "" if all(isinstance(v, str) for v in item.values()) else NO_VALUE
        elif isinstance(item, str):
            item = item.encode()[_int_index(key, len(item.encode()))]
        elif isinstance(item, Sequence):
            item = item[_int_index(key, len(item))]
        else:
            raise FunctionError(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: object, *bounds: object) -> object:
    if not isinstance(item, str | list | tuple):
        raise FunctionError(f"can't slice item of type {go_type(item)}")
    if len(bounds) > 2 + (not isinstance(item, str)):
        raise FunctionError(f"too many slice indexes: {len(bounds)}")
    size = len(item)
    numbers = [_int_index(bound, size, cap=size) for bound in bounds[:2]]
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        raise FunctionError(f"invalid slice index: {numbers[0]} > {numbers[1]}")
    return item[slice(*numbers)] if numbers else item


# -- text ---------------------------------------------------------------------------------------
def _js_escape(text: str) -> str:
    out = []
    for char in text:
        if char in "\\'\"":
            out.append("\\" + char)
        elif char in "<>&=":
            out.append(f"\\u{ord(char):04X}")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _html_escape(text: str) -> str:
    return html.escape(text.replace("\0", "\ufffd"), quote=True).replace("&#x27;", "&#39;") \
        .replace("&quot;", "&#34;")  # fmt: skip


def title(text: str) -> str:
    """strings.Title: the first letter of each word upper-cased; `-` separates words, `_` not."""
    out, previous = [], " "
    for char in text:
        separator = not (previous.isalnum() or previous == "_") if previous.isascii() \
            else previous.isspace()  # fmt: skip
        out.append(char.upper() if separator else char)
        previous = char
    return "".join(out)


def split(text: str, separator: str) -> list[str]:
    return list(text) if separator == "" else text.split(separator)


def pad(source: str, prefix: int, suffix: int) -> str:
    return source and " " * prefix + source + " " * suffix


def truncate(source: str, length: int) -> str:
    raw = source.encode()
    return source if len(raw) < length else raw[: max(length, 0)].decode(errors="ignore")


def _join(elements: Sequence[str], separator: str) -> str:
    return separator.join(elements)


BUILTINS: dict[str, Function] = {
    "and": Function(lambda *a: a[-1], (ANY,), ANY),  # evaluated lazily by the executor
    "or": Function(lambda *a: a[-1], (ANY,), ANY),
    "not": Function(lambda v: not is_true(v), (ANY,)),
    "len": Function(length, (ANY,)),
    "index": Function(index, (ANY,), ANY),
    "slice": Function(slice_, (ANY,), ANY),
    "print": Function(lambda *a: sprint(a), (), ANY),
    "println": Function(lambda *a: sprintln(a), (), ANY),
    "printf": Function(lambda f, *a: sprintf(f, a), (STRING,), ANY),
    "eq": Function(eq, (ANY,), ANY),
    "ne": Function(ne, (ANY, ANY)),
    "lt": Function(lt, (ANY, ANY)),
    "le": Function(le, (ANY, ANY)),
    "gt": Function(gt, (ANY, ANY)),
    "ge": Function(ge, (ANY, ANY)),
    "html": Function(lambda *a: _html_escape(sprint(a)), (), ANY),
    "js": Function(lambda *a: _js_escape(sprint(a)), (), ANY),
    "urlquery": Function(lambda *a: urllib.parse.quote_plus(sprint(a), safe="~"), (), ANY),
}

DOCKER_FUNCTIONS: dict[str, Function] = {
    **BUILTINS,
    "json": Function(go_json, (ANY,)),
    "split": Function(split, (STRING, STRING)),
    "join": Function(_join, (STRINGS, STRING)),
    "title": Function(title, (STRING,)),
    "lower": Function(str.lower, (STRING,)),
    "upper": Function(str.upper, (STRING,)),
    "pad": Function(pad, (STRING, INT, INT)),
    "truncate": Function(truncate, (STRING, INT)),
}


def _same(value: str, *_: object) -> str:
    return value


# A table's header row: these leave the column name as it is (pad still pads it).
HEADER_FUNCTIONS: dict[str, Function] = {
    **DOCKER_FUNCTIONS,
    "json": Function(_same, (STRING,)),
    "split": Function(_same, (STRING, STRING)),
    "join": Function(_same, (STRING, STRING)),
    "title": Function(_same, (STRING,)),
    "lower": Function(_same, (STRING,)),
    "upper": Function(_same, (STRING,)),
    "truncate": Function(_same, (STRING, INT)),
}
