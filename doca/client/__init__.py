"""The async Docker Engine API client shared by the ``doca`` CLI and the desktop app."""

from doca.client.client import EngineClient
from doca.client.errors import (
    Conflict,
    EngineError,
    EngineUnavailable,
    InvalidRequest,
    NotFound,
    ServerError,
    StreamError,
)

__all__ = [
    "Conflict",
    "EngineClient",
    "EngineError",
    "EngineUnavailable",
    "InvalidRequest",
    "NotFound",
    "ServerError",
    "StreamError",
]
