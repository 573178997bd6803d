"""``.env`` and ``env_file`` files in Compose's dotenv dialect: ``KEY=VALUE`` lines, an optional
``export``, ``#`` comments, single quotes taken literally, double quotes with escapes, and
``$VAR`` in unquoted or double-quoted values expanded from what was defined before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from doca.compose.errors import ComposeError
from doca.compose.interpolation import InterpolationError, interpolate

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-\[\]]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


def read_env_file(path: Path, lookup: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The variables ``path`` defines, in order; a bare ``KEY`` line maps to None (taken from
    the environment by whoever uses it). ``lookup`` resolves ``$VAR`` not defined in the file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ComposeError(exc.strerror or str(exc), str(path)) from exc
    return parse_env(text, str(path), lookup or {})


def parse_env(text: str, name: str, lookup: Mapping[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not _KEY.match(key):
            raise ComposeError(f"unexpected character in variable name {key!r}", name, number)
        if not sep:
            out[key] = None
            continue
        known = {**lookup, **{k: v for k, v in out.items() if v is not None}}
        try:
            out[key] = _value(value.strip(), known)
        except InterpolationError as exc:
            raise ComposeError(str(exc), name, number, key) from exc
    return out


def _value(value: str, known: Mapping[str, str]) -> str:
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return value[1:-1]
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value[1:-1])
        return interpolate(body, known)
    value = re.sub(r"\s+#.*$", "", value)  # an inline comment needs a blank before the '#'
    return interpolate(value, known)
