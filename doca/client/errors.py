"""Engine API errors, translated once from HTTP answers (as docker-py does)."""

from __future__ import annotations


class EngineError(Exception):
    """An error the engine reported (``status`` is its HTTP status) or an unreachable engine
    (``status`` 0); ``message`` is what to show the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class InvalidRequest(EngineError):
    pass


class NotFound(EngineError):
    pass


class Conflict(EngineError):
    pass


class ServerError(EngineError):
    pass


class EngineUnavailable(EngineError):
    pass


class StreamError(ServerError):
    """An error the engine reported inside a stream it had already begun (docker's JSONError):
    ``code`` is the message's ``errorDetail.code``, a failed RUN's exit code, or 0."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(500, message)
        self.code = code


def error_for(status: int, message: str) -> EngineError:
    if status == 404:
        return NotFound(status, message)
    if status == 409:
        return Conflict(status, message)
    if 400 <= status < 500:
        return InvalidRequest(status, message)
    return ServerError(status, message)
