"""Registry error responses (``{"errors": [{"code": …, "message": …}]}``) as engine errors.

The parsing follows distribution's ``HandleErrorResponse`` so the text a user sees is the
text dockerd prints, e.g. ``manifest unknown: manifest unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import (
    EngineError,
    Forbidden,
    InvalidParameter,
    NotFound,
    SystemError_,
    Unauthorized,
    Unavailable,
)
from engine.registry.challenges import Challenge

# Messages distribution uses when a status or challenge carries no error body of its own.
_DEFAULT_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "TOOMANYREQUESTS": "too many requests",
    "UNKNOWN": "unknown error",
}
_NOT_FOUND = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"})
_INVALID = frozenset(
    {
        "DIGEST_INVALID",
        "SIZE_INVALID",
        "NAME_INVALID",
        "TAG_INVALID",
        "MANIFEST_INVALID",
        "MANIFEST_UNVERIFIED",
        "MANIFEST_BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "PAGINATION_NUMBER_INVALID",
        "RANGE_INVALID",
        "UNSUPPORTED",
    }
)
_MAX_ERRORS = 20
_MAX_TEXT = 1000


@dataclass(frozen=True)
class RegistryError:
    """One entry of a registry's ``errors`` array."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code.lower().replace('_', ' ')}: {self.message}"


class RegistryRequestFailed(SystemError_):
    """A registry request failed at the HTTP level; ``errors`` holds what the registry said."""

    def __init__(self, message: str, status: int, errors: list[RegistryError]) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors


def parse_errors(
    status: int, headers: Mapping[str, str], body: bytes, challenges: list[Challenge]
) -> list[RegistryError]:
    """The registry errors of a failed response, never empty."""
    found: list[RegistryError] = []
    # RFC 6750 errors in the Bearer challenge are more precise than the body of a 401/403.
    for challenge in challenges:
        if challenge.scheme != "bearer":
            continue
        code = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}.get(
            challenge.params.get("error", "")
        )
        if code:
            description = challenge.params.get("error_description") or _DEFAULT_MESSAGES[code]
            found.append(RegistryError(code, description))
            break
    found.extend(_body_errors(status, headers, body))
    return found


def _body_errors(status: int, headers: Mapping[str, str], body: bytes) -> list[RegistryError]:
    text = body[:_MAX_TEXT].decode("utf-8", "replace").strip()
    content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type not in ("application/json", "application/vnd.api+json"):
        return [_from_status(status, text)]
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [_from_status(status, "")]
    if isinstance(parsed, dict) and isinstance(parsed.get("details"), str) and parsed["details"]:
        return [_from_status(status, parsed["details"][:_MAX_TEXT])]
    entries = parsed.get("errors") if isinstance(parsed, dict) else None
    errors = []
    for entry in entries[:_MAX_ERRORS] if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            message = entry.get("message")
            errors.append(
                RegistryError(
                    entry["code"][:100].upper(),
                    message[:_MAX_TEXT] if isinstance(message, str) else "",
                )
            )
    return errors or [_from_status(status, "")]


def _from_status(status: int, message: str) -> RegistryError:
    code = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOOMANYREQUESTS"}.get(status, "UNKNOWN")
    if status >= 500 and not message:
        message = f"received unexpected HTTP status: {status}"
    return RegistryError(code, message or _DEFAULT_MESSAGES[code])


def describe(errors: list[RegistryError]) -> str:
    """The errors as distribution's ``errcode.Errors`` prints them."""
    if len(errors) == 1:
        return str(errors[0])
    return "errors:\n" + "".join(f"{error}\n" for error in errors)


def engine_error(status: int, errors: list[RegistryError], prefix: str = "") -> EngineError:
    """The engine error for a failed registry request; ``prefix`` is prepended as ``prefix: …``."""
    message = describe(errors)
    if prefix:
        message = f"{prefix}: {message}"
    code = errors[0].code if errors else ""
    cls: type[EngineError]
    if code == "UNAUTHORIZED" or status == 401:
        cls = Unauthorized
    elif code == "DENIED" or status == 403:
        cls = Forbidden
    elif code in _NOT_FOUND or status == 404:
        cls = NotFound
    elif code in _INVALID or status in (400, 405, 413, 416):
        cls = InvalidParameter
    elif code == "TOOMANYREQUESTS" or status in (429, 502, 503, 504):
        cls = Unavailable
    else:
        return RegistryRequestFailed(message, status, errors)
    return cls(message)


def pull_error(errors: list[RegistryError], reference: str, name: str) -> EngineError | None:
    """dockerd's wording for a failed manifest fetch (translatePullError), None if generic.

    ``reference`` is the familiar ``name:tag`` (or ``name@digest``), ``name`` the repository.
    """
    if not errors:
        return None
    first = errors[0]
    if first.code == "DENIED":
        return NotFound(
            f"pull access denied for {name}, repository does not exist or may require "
            f"'docker login': {first}"
        )
    if first.code == "MANIFEST_UNKNOWN":
        return NotFound(f"manifest for {reference} not found: {first}")
    if first.code == "NAME_UNKNOWN":
        return NotFound(f"repository {name} not found: {first}")
    if first.code == "UNAUTHORIZED":
        return Unauthorized(str(first))
    return None
