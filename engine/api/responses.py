"""JSON answers as dockerd sends them: ``Content-Type: application/json`` with no charset
parameter, which the docker CLI compares literally before it decodes an error body."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from engine.api.version import API_VERSION_HEADERS


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data) + b"\n",
        status=status,
        content_type="application/json",
        headers=API_VERSION_HEADERS,
    )
