"""Domain errors raised by the engine's services.

Services never speak HTTP; the API layer maps these classes to status codes in one
middleware (``engine.api.errors``). The message is what the client shows the user, so it
follows dockerd's wording wherever a client might match on it.
"""

import errno


class EngineError(Exception):
    """Base class of every error the engine reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(EngineError):
    """The request is malformed or names something impossible (HTTP 400)."""


class Unauthorized(EngineError):
    """Credentials are missing or wrong (HTTP 401)."""


class Forbidden(EngineError):
    """The request is understood but refused (HTTP 403)."""


class NotFound(EngineError):
    """The named object does not exist (HTTP 404)."""


class Conflict(EngineError):
    """The request clashes with the current state (HTTP 409)."""


class NotModified(EngineError):
    """The object is already in the requested state (HTTP 304)."""


class NotImplementedByEngine(EngineError):
    """A feature dockerd has that this engine does not offer (HTTP 501)."""


class Unavailable(EngineError):
    """A dependency of the engine is not usable right now (HTTP 503)."""


class SystemError_(EngineError):
    """The engine failed while carrying out a valid request (HTTP 500)."""


# Failures of the machine rather than of the engine: told to the client as they are.
_STORAGE_ERRNOS = frozenset(
    {errno.EIO, errno.ENOMEM, errno.ENFILE, errno.EMFILE, errno.ENOSPC, errno.EROFS, errno.EDQUOT}
)


def storage_error(exc: OSError) -> SystemError_ | None:
    """A disk or resource failure as dockerd words it (``write /path: no space left on
    device``), or None for any other OSError (a bug, logged as such)."""
    if exc.errno not in _STORAGE_ERRNOS:
        return None
    reason = (exc.strerror or str(exc)).lower()
    return SystemError_(f"{exc.filename}: {reason}" if exc.filename else reason)


def tar_error_text(exc: Exception) -> str:
    """A broken archive as Go's archive/tar and compress packages word it."""
    if isinstance(exc, EOFError):
        return "unexpected EOF"
    return str(exc) or "invalid tar header"
