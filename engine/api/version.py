"""API version negotiation: every route answers under ``/v1.NN/`` for 1.24 ≤ NN ≤ 1.47."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from engine import __version__
from engine.errors import InvalidParameter

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
VERSION_KEY = web.RequestKey("api_version", tuple)

API_VERSION_HEADERS = {
    "Api-Version": API_VERSION,
    "Server": f"Doca/{__version__} (linux)",
    "Docker-Experimental": "false",
    "Ostype": "linux",
}


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise InvalidParameter(f"invalid API version {text!r}")
    return int(major), int(minor)


MAX = parse_version(API_VERSION)
MIN = parse_version(MIN_API_VERSION)


def request_version(request: web.Request) -> tuple[int, int]:
    """The version a request asked for, checked against what the engine supports."""
    asked = request.match_info.get("version")
    if asked is None:
        return MAX
    version = parse_version(asked)
    if version > MAX:
        raise InvalidParameter(
            f"client version {asked} is too new. Maximum supported API version is {API_VERSION}"
        )
    if version < MIN:
        raise InvalidParameter(
            f"client version {asked} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version"
        )
    return version


@web.middleware
async def version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[VERSION_KEY] = request_version(request)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(API_VERSION_HEADERS)
    return response
