"""Query parameters decoded as dockerd decodes them."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from aiohttp import web

from engine.errors import InvalidParameter
from engine.filters import Filters

_FALSE = {"", "0", "no", "false", "none"}


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    """dockerd's boolValue: absent means ``default``; "", 0, no, false, none mean false."""
    if name not in request.query:
        return default
    return request.query[name].strip().lower() not in _FALSE


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from exc


def filters_param(request: web.Request) -> Filters:
    return Filters.parse(request.query.get("filters"))


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from exc


def registry_auth(request: web.Request) -> dict[str, Any]:
    """The ``X-Registry-Auth`` header: base64url JSON, ``e30=`` when empty."""
    header = request.headers.get("X-Registry-Auth", "")
    if not header:
        return {}
    try:
        padded = header + "=" * (-len(header) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidParameter("invalid X-Registry-Auth header") from exc
    return value if isinstance(value, dict) else {}
