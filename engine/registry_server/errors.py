"""Distribution's error codes and the JSON envelope a registry client expects.

Clients match on ``code``; ``message`` is the fixed text distribution sends for that code, and
``detail`` carries what went wrong this time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import EngineError


@dataclass(frozen=True)
class ErrorCode:
    code: str
    message: str
    status: int


UNKNOWN = ErrorCode("UNKNOWN", "unknown error", 500)
UNSUPPORTED = ErrorCode("UNSUPPORTED", "The operation is unsupported.", 405)
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", "authentication required", 401)
DENIED = ErrorCode("DENIED", "requested access to the resource is denied", 403)
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", "provided digest did not match uploaded content", 400)
SIZE_INVALID = ErrorCode("SIZE_INVALID", "provided length did not match content length", 400)
NAME_INVALID = ErrorCode("NAME_INVALID", "invalid repository name", 400)
TAG_INVALID = ErrorCode("TAG_INVALID", "manifest tag did not match URI", 400)
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", "repository name not known to registry", 404)
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", "manifest unknown", 404)
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", "manifest invalid", 400)
MANIFEST_BLOB_UNKNOWN = ErrorCode("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", 400)
BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", "blob unknown to registry", 404)
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404)
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", "blob upload invalid", 404)
PAGINATION_NUMBER_INVALID = ErrorCode(
    "PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400
)
RANGE_INVALID = ErrorCode("RANGE_INVALID", "invalid content range", 416)


class RegistryError(EngineError):
    """A request the registry refuses with one of distribution's error codes.

    ``headers`` are sent along, e.g. the current ``Range`` of an upload with RANGE_INVALID.
    """

    def __init__(
        self, code: ErrorCode, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code.message if detail is None else f"{code.message}: {detail}")
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def error_body(code: ErrorCode, detail: Any = None) -> bytes:
    """The ``{"errors": [...]}`` document; ``detail`` is left out when there is none."""
    entry: dict[str, Any] = {"code": code.code, "message": code.message}
    if detail is not None:
        entry["detail"] = detail
    return orjson.dumps({"errors": [entry]})
