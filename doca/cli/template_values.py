"""Go's view of template values: type names for errors, truth, ``fmt`` printing (``%v``,
``Sprint``, ``Sprintln``, ``Sprintf``) and ``encoding/json`` output.

Values are what the engine's JSON decodes to (str, int, float, bool, None, list, dict) or
objects standing for the docker CLI's formatter contexts: their exported (capitalised) methods
are the template's fields, and ``template_json()`` gives what ``{{json .}}`` prints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


class NoValue:
    """A map's missing key (Go's invalid value): false, and printed as "<no value>"."""

    _instance: NoValue | None = None

    def __new__(cls) -> NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = NoValue()


class TemplateError(Exception):
    """A template that does not parse or fails on its data; ``str()`` is Go's message."""


@runtime_checkable
class TemplateObject(Protocol):
    """A formatter context: Go type name for errors, and the map ``{{json .}}`` prints."""

    go_type: str

    def template_json(self) -> Mapping[str, Any]: ...


class GoStruct(dict[str, Any]):
    """A Go struct the docker CLI decodes or builds itself: a missing field is an error
    naming its Go type."""

    go_struct = True

    def __init__(
        self, go_type: str, *args: Any, omitempty: tuple[str, ...] = (), **fields: Any
    ) -> None:
        super().__init__(*args, **fields)
        self.go_type = go_type
        self.omitempty = omitempty

    def json_fields(self) -> dict[str, Any]:
        """The fields its JSON has: those tagged omitempty only when set."""
        return {k: v for k, v in self.items() if v or (v == 0 and v is not False)
                or k not in self.omitempty}  # fmt: skip


_FIELD_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")


def is_struct(value: Mapping[Any, Any]) -> bool:
    """Whether engine JSON stands for a Go struct (every key a Go field name) rather than a
    map such as labels; a type may say so with ``go_struct`` or ``go_map``."""
    if getattr(value, "go_struct", False):
        return True
    if getattr(value, "go_map", False) or not value:
        return False
    return all(isinstance(key, str) and _FIELD_NAME.fullmatch(key) for key in value)


def go_type(value: object) -> str:
    """The Go type the docker CLI would report for a value in an error message."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return str(getattr(value, "go_type", "map[string]interface {}"))
    if isinstance(value, Sequence):
        return "[]string" if value and all(isinstance(v, str) for v in value) else "[]interface {}"
    return str(getattr(value, "go_type", type(value).__name__))


def is_true(value: object) -> bool:
    """text/template's truth: false, 0, "", nil and empty lists and maps are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, bool | int | float | str | Mapping | list | tuple):
        return bool(value)
    return True


def go_float(value: float) -> str:
    """fmt's %v of a float64: the shortest digits, in exponent form below 1e-4 and from 1e6 up
    (strconv's 'g' with the shortest precision)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in parts.digits)
    point = len(digits) + int(parts.exponent)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_value(value: object) -> str:
    """fmt's %v of a value: a nil is "<nil>", a missing map entry "<no value>"."""
    if value is NO_VALUE:
        return repr(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if is_struct(value):  # printed as Go prints a struct: its values in order
            return "{" + " ".join(format_value(v) for v in value.values()) + "}"
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{k}:{format_value(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, TemplateObject):
        return "&{" + " ".join(format_value(v) for v in value.template_json().values()) + "}"
    return str(value)


def sprint(args: Sequence[object]) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out = []
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(format_value(arg))
    return "".join(out)


def sprintln(args: Sequence[object]) -> str:
    return " ".join(format_value(arg) for arg in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def _bad_verb(verb: str, arg: object) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={format_value(arg)})"


def _pad(text: str, flags: str, width: int | None) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and text[:1] in "+-" and text[1:].replace(".", "").isdigit():
        return text[0] + text[1:].rjust(width - 1, "0")
    return text.rjust(width, "0" if "0" in flags else " ")


def _format_one(verb: str, flags: str, precision: int | None, arg: object) -> str:
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    if verb == "v":
        return format_value(arg)
    if verb == "s":
        if isinstance(arg, str):
            return arg if precision is None else arg[:precision]
        if isinstance(arg, list | tuple) and all(isinstance(v, str) for v in arg):
            return format_value(arg)
        return _bad_verb(verb, arg)
    if verb == "q":
        if isinstance(arg, str):
            return json.dumps(arg, ensure_ascii=False)
        if is_int:
            return "'" + chr(int(arg)) + "'"  # type: ignore[call-overload]
        return _bad_verb(verb, arg)
    if verb == "t":
        return format_value(arg) if isinstance(arg, bool) else _bad_verb(verb, arg)
    if verb in "dbox" or verb in "XcU":
        if is_int:
            number = int(arg)  # type: ignore[call-overload]
            sign = "+" if "+" in flags and number >= 0 else ""
            if verb == "c":
                return chr(number)
            if verb == "U":
                return f"U+{number:04X}"
            return sign + format(number, {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb])
        if isinstance(arg, str) and verb in "xX":
            text = arg.encode().hex()
            return text.upper() if verb == "X" else text
        return _bad_verb(verb, arg)
    if verb in "eEfFgG":
        if isinstance(arg, float):
            number = float(arg)
            sign = "+" if "+" in flags and number >= 0 else ""
            if verb in "gG" and precision is None:
                text = go_float(number)
                return sign + (text.replace("e", "E") if verb == "G" else text)
            return sign + f"{number:.{6 if precision is None else precision}{verb}}"
        return _bad_verb(verb, arg)
    return f"%!{verb}({go_type(arg)}={format_value(arg)})"


def sprintf(template: str, args: Sequence[object]) -> str:
    """fmt.Sprintf for the verbs templates use: v s q d t f g e x c, widths and precisions."""
    out: list[str] = []
    index = 0
    position = 0
    for match in _VERB.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        flags, width_text, precision_text, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        width = int(width_text) if width_text and width_text != "*" else None
        precision = int(precision_text) if precision_text and precision_text != "*" else None
        if precision is None and "." in match.group(0):
            precision = 0
        if index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        text = _format_one(verb, flags, precision, args[index])
        index += 1
        out.append(_pad(text, flags, width))
    out.append(template[position:])
    if index < len(args):
        extra = ", ".join(f"{go_type(a)}={format_value(a)}" for a in args[index:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _encode(value: object, escape_html: bool) -> str:
    if isinstance(value, TemplateObject):
        # A context marshals itself with json.Marshal, which escapes <, > and &.
        fields = value.template_json()
        return (
            "{"
            + ",".join(
                f"{json.dumps(key, ensure_ascii=False)}:{_encode(fields[key], True)}"
                for key in sorted(fields)
            )
            + "}"
        )
    if isinstance(value, GoStruct):
        value = value.json_fields()
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                f"{_encode(str(key), escape_html)}:{_encode(item, escape_html)}"
                for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item, escape_html) for item in value) + "]"
    if value is NO_VALUE:
        value = None
    text = json.dumps(value, ensure_ascii=False)
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def go_json(value: object) -> str:
    """encoding/json as docker's ``json`` function prints: compact, HTML left unescaped (but
    escaped inside formatter contexts, which marshal themselves)."""
    text = _encode(value, escape_html=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
