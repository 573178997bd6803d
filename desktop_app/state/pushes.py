"""``docker push`` for the desktop app: the streaming call, and ``PushProgress`` (the transfer
fold of ``transfers`` for a push)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from desktop_app.state.pulls import pull_auth, split_reference
from desktop_app.state.transfers import (
    PUSH,
    Layer,
    Message,
    TransferFailed,
    TransferProgress,
    fold_stream,
    stream_with_errors,
)
from doca.client import EngineClient

PushedLayer = Layer


class PushFailed(TransferFailed):
    """The push did not finish: the engine's error message (status 500, as a failed stream
    reports it)."""


async def push_image(
    client: EngineClient, reference: str, auth: str | None
) -> AsyncIterator[Message]:
    """The engine's progress messages of ``docker push reference``, as they arrive. An error
    after the stream has begun arrives as an ``error`` message, so it is shown where the
    progress is; one before (an unknown tag, no engine) raises ``EngineError``."""
    name, tag = split_reference(reference)
    async for message in stream_with_errors(client.images.push(name, tag, auth)):
        yield message


class PushProgress(TransferProgress):
    """Where a push stands; ``result`` is the engine's ``<tag>: digest: … size: N`` line."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference, PUSH)

    @property
    def result(self) -> str:
        return self.outcome


async def run_push(
    client: EngineClient,
    progress: PushProgress,
    on_message: Callable[[], None] | None = None,
) -> PushProgress:
    """The whole push: credentials (in a thread), the stream folded into ``progress``
    (``on_message()`` after each message), then ``PushFailed`` if the engine reported an error."""
    reference = progress.reference
    auth = await asyncio.to_thread(pull_auth, reference)
    await fold_stream(push_image(client, reference, auth), progress, on_message, PushFailed)
    return progress
