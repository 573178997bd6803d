"""The one place where domain errors become HTTP answers: ``{"message": …}`` and a status
chosen as dockerd chooses it."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from engine import errors
from engine.api.responses import json_response
from engine.api.version import API_VERSION_HEADERS
from engine.errors import EngineError

log = logging.getLogger(__name__)

STATUS = {
    errors.InvalidParameter: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NotImplementedByEngine: 501,
    errors.Unavailable: 503,
    errors.SystemError_: 500,
}


def status_of(error: EngineError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.NotModified:
        return web.Response(status=304, headers=API_VERSION_HEADERS)
    except EngineError as exc:
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        return error_response(status, exc.message)
    except web.HTTPException as exc:
        if exc.status == 404:
            return error_response(404, "page not found")
        if exc.status == 405:
            return error_response(405, "method not allowed")
        if exc.status >= 400:
            return error_response(exc.status, exc.reason)
        raise
    except (ConnectionResetError, web.RequestPayloadError) as exc:
        # The client went away mid-answer (docker logs -f | head, a detached attach): nothing
        # is left to tell it, and nothing went wrong in the engine.
        log.debug("%s %s: client gone: %s", request.method, request.path, exc)
        return web.Response(status=499)
    except OSError as exc:
        error = errors.storage_error(exc)
        if error is None:
            log.exception("unexpected error in %s %s", request.method, request.path)
            return error_response(500, "internal error: see the engine's log for details")
        log.error("%s %s: %s", request.method, request.path, error.message)
        return error_response(500, error.message)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(500, "internal error: see the engine's log for details")
