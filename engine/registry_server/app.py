"""The registry's aiohttp application: routing, authentication and error translation.

Every request goes through one catch-all route: the path is parsed from the raw request
target by ``names.parse_route`` (repository names contain slashes and must be checked before
any decoding), then dispatched on route kind and method.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine.content.store import DigestMismatch
from engine.errors import EngineError, InvalidParameter, NotFound
from engine.registry_server import blob_api, listing_api, manifest_api
from engine.registry_server.errors import (
    DIGEST_INVALID,
    UNAUTHORIZED,
    UNKNOWN,
    UNSUPPORTED,
    ErrorCode,
    RegistryError,
    error_body,
)
from engine.registry_server.htpasswd import basic_credentials
from engine.registry_server.names import Route, parse_route
from engine.registry_server.state import RegistryState

log = logging.getLogger(__name__)

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"
STATE = web.AppKey("registry_state", RegistryState)

Handler = Callable[[web.Request, RegistryState, Route], Awaitable[web.StreamResponse]]


async def api_base(request: web.Request, state: RegistryState, route: Route) -> web.Response:
    return web.json_response({})


HANDLERS: dict[str, dict[str, Handler]] = {
    "base": {"GET": api_base, "HEAD": api_base},
    "catalog": {"GET": listing_api.catalog},
    "tags": {"GET": listing_api.list_tags},
    "manifest": {
        "GET": manifest_api.get_manifest,
        "HEAD": manifest_api.get_manifest,
        "PUT": manifest_api.put_manifest,
        "DELETE": manifest_api.delete_manifest,
    },
    "blob": {
        "GET": blob_api.get_blob,
        "HEAD": blob_api.get_blob,
        "DELETE": blob_api.delete_blob,
    },
    "uploads": {"POST": blob_api.start_upload},
    "upload": {
        "GET": blob_api.upload_status,
        "HEAD": blob_api.upload_status,
        "PATCH": blob_api.upload_chunk,
        "PUT": blob_api.finish_upload,
        "DELETE": blob_api.cancel_upload,
    },
}


async def dispatch(request: web.Request) -> web.StreamResponse:
    route = parse_route(request.raw_path)
    if route is None:
        raise web.HTTPNotFound()
    handler = HANDLERS[route.kind].get(request.method)
    if handler is None:
        raise RegistryError(UNSUPPORTED, {"method": request.method})
    return await handler(request, request.app[STATE], route)


def error_response(code: ErrorCode, detail: object, headers: dict[str, str]) -> web.Response:
    return web.Response(
        status=code.status,
        body=error_body(code, detail),
        content_type="application/json",
        headers=headers,
    )


def _generic_code(error: EngineError) -> ErrorCode:
    if isinstance(error, DigestMismatch):
        return DIGEST_INVALID
    if isinstance(error, NotFound):
        return ErrorCode(UNKNOWN.code, UNKNOWN.message, 404)
    if isinstance(error, InvalidParameter):
        return ErrorCode(UNKNOWN.code, UNKNOWN.message, 400)
    return UNKNOWN


@web.middleware
async def translate_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The one place where errors become distribution's JSON error responses."""
    try:
        return await handler(request)
    except RegistryError as error:
        response = error_response(error.code, error.detail, error.headers)
    except EngineError as error:
        response = error_response(_generic_code(error), error.message, {})
    except web.HTTPException:
        raise
    except ConnectionError as error:
        # The client went away mid-request; an upload it left keeps what arrived before.
        log.info("registry request %s %s: client gone: %s", request.method, request.path, error)
        response = error_response(UNKNOWN, "connection lost", {})
    except Exception:
        log.exception("registry request %s %s failed", request.method, request.path)
        response = error_response(UNKNOWN, None, {})
    if not request.content.at_eof():
        # A refused request's body is not read; close rather than drain, say, 4 MiB of it.
        response.force_close()
    return response


@web.middleware
async def authenticate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """With an htpasswd file, every request needs valid Basic credentials."""
    state = request.app[STATE]
    if state.users is not None:
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is None or not await asyncio.to_thread(state.users.verify, *credentials):
            challenge = {"WWW-Authenticate": f'Basic realm="{state.realm}"'}
            raise RegistryError(UNAUTHORIZED, headers=challenge)
    return await handler(request)


async def _add_api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[API_VERSION_HEADER] = API_VERSION


async def _close(app: web.Application) -> None:
    state = app[STATE]
    await state.uploads.close_all()
    await asyncio.to_thread(state.close)


def create_app(state: RegistryState) -> web.Application:
    """The registry application; it releases ``state`` when it is cleaned up."""
    app = web.Application(middlewares=[translate_errors, authenticate])
    app[STATE] = state
    app.router.add_route("*", "/{tail:.*}", dispatch)
    app.on_response_prepare.append(_add_api_version)
    app.on_cleanup.append(_close)
    return app
