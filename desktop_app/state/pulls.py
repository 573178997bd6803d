"""``docker pull`` for the desktop app: the reference helpers, the credentials, the streaming
call, and ``PullProgress`` (the transfer fold of ``transfers`` for a pull)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from desktop_app.state.transfers import (
    PULL,
    Layer,
    TransferFailed,
    TransferProgress,
    fold_stream,
    stream_with_errors,
)
from doca.client import EngineClient
from doca.credhelper.dockerconfig import ConfigError, auth_header_value
from doca.credhelper.helpers import HelperError

Message = dict[str, Any]

HUB_DOMAIN = "docker.io"


class PullFailed(TransferFailed):
    """The pull did not finish: the engine's error message (status 500, as a failed stream
    reports it), or why no credentials could be had (status 0: the engine was never asked)."""


def split_reference(reference: str) -> tuple[str, str]:
    """(fromImage, tag) as the docker CLI sends them: a digest goes in ``tag``, and a
    reference without tag or digest means ``latest``."""
    reference = reference.strip()
    name, at, digest = reference.partition("@")
    if at:
        return name, digest
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry's port
        return name[:colon], name[colon + 1 :]
    return name, "latest"


def registry_of(reference: str) -> str:
    """The registry a reference names (reference.ParseNormalizedNamed's domain): its first
    component when that looks like a host (a dot, a port or ``localhost``), else Docker Hub."""
    name = split_reference(reference)[0]
    first, slash, _ = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return HUB_DOMAIN


def pull_auth(reference: str) -> str | None:
    """``X-Registry-Auth`` for the reference's registry, found as the docker CLI finds it.

    Blocking (it may run a credential helper): call it through ``asyncio.to_thread``.
    """
    registry = registry_of(reference)
    try:
        return auth_header_value(registry)
    except (ConfigError, HelperError) as exc:
        raise PullFailed(0, f"cannot get the credentials for {registry}: {exc}") from exc


async def pull_image(
    client: EngineClient, reference: str, platform: str | None, auth: str | None
) -> AsyncIterator[Message]:
    """The engine's progress messages of ``docker pull reference``, as they arrive.

    An error the engine reports once the stream has started arrives as a message (``error``,
    ``errorDetail``) rather than an exception, so the caller can show it where the progress
    is; an error before that (a bad reference, an unreachable engine) raises ``EngineError``.
    """
    name, tag = split_reference(reference)
    async for message in stream_with_errors(client.images.pull(name, tag, platform or "", auth)):
        yield message


LayerProgress = Layer


class PullProgress(TransferProgress):
    """Where a pull stands; ``status`` is the engine's closing ``Status: …`` line."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference, PULL)

    @property
    def status(self) -> str:
        return self.outcome

    def raise_for_error(self) -> None:
        if self.error:
            raise PullFailed(500, self.error)


async def run_pull(
    client: EngineClient,
    reference: str,
    platform: str | None,
    progress: PullProgress,
    on_message: Callable[[], None] | None = None,
) -> PullProgress:
    """The whole pull: credentials (in a thread), the stream folded into ``progress``
    (``on_message()`` after each message), then ``PullFailed`` if the engine reported an error."""
    auth = await asyncio.to_thread(pull_auth, reference)
    await fold_stream(pull_image(client, reference, platform, auth), progress, on_message,
                      PullFailed)  # fmt: skip
    return progress
