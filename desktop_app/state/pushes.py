"""``docker push`` for the desktop app: the streaming call, and ``PushProgress``, which folds the
engine's JSON progress messages into one row per layer, an overall fraction and the outcome.

Messages are spelt as dockerd spells them: ``The push refers to repository [...]``, then per
layer ``Preparing``, ``Waiting``, ``Pushing`` with ``progressDetail {current, total}``, and one
of ``Pushed``, ``Layer already exists`` or ``Mounted from <repo>``; each pushed tag ends with
``<tag>: digest: sha256:… size: N`` and an ``aux`` message, or the stream carries an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.state.pulls import pull_auth, split_reference
from desktop_app.state.rows import human_size
from doca.client import EngineClient, EngineError

Message = dict[str, Any]


class PushFailed(EngineError):
    """The push did not finish: the engine's error message (status 500, as a failed stream
    reports it)."""


def _finished(status: str) -> bool:
    return status in ("Pushed", "Layer already exists") or status.startswith("Mounted from ")


@dataclass
class PushedLayer:
    id: str
    status: str
    current: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """How much of this layer's upload is done, 0…1."""
        if _finished(self.status):
            return 1.0
        if self.status == "Pushing" and self.total > 0:
            return min(self.current / self.total, 1.0)
        return 0.0

    def text(self) -> str:
        """``abc123def456: Pushing 1.2MB / 3.4MB``, or just the status."""
        line = f"{self.id}: {self.status}"
        if self.status == "Pushing" and self.total > 0:
            line += f" {human_size(self.current)} / {human_size(self.total)}"
        return line


async def push_image(
    client: EngineClient, reference: str, auth: str | None
) -> AsyncIterator[Message]:
    """The engine's progress messages of ``docker push reference``, as they arrive. An error
    after the stream has begun arrives as an ``error`` message, so it is shown where the
    progress is; one before (an unknown tag, no engine) raises ``EngineError``."""
    name, tag = split_reference(reference)
    started = False
    try:
        async for message in client.images.push(name, tag, auth):
            started = True
            yield message
    except EngineError as exc:
        if not started:
            raise
        yield {"error": exc.message, "errorDetail": {"message": exc.message}}


class PushProgress:
    """Where a push stands, from the messages seen so far (``update`` each one in turn)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.layers: dict[str, PushedLayer] = {}
        self.header = ""  # "The push refers to repository [docker.io/x/app]"
        self.digest = ""
        self.result = ""  # "1: digest: sha256:… size: 527"
        self.error = ""

    def update(self, message: Message) -> None:
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("errorDetail") or {}
            self.error = str(message.get("error") or detail.get("message") or "push failed")
            return
        aux = message.get("aux")
        if isinstance(aux, dict):
            self.digest = str(aux.get("Digest") or self.digest)
            return
        status = str(message.get("status") or "")
        layer = str(message.get("id") or "")
        if layer:
            row = self.layers.setdefault(layer, PushedLayer(layer, status))
            row.status = status
            detail = message.get("progressDetail") or {}
            if detail.get("total"):
                row.total = int(detail["total"])
                row.current = int(detail.get("current") or 0)
        elif status.startswith("The push refers to"):
            self.header = status
        elif ": digest: " in status:
            self.result = status

    @property
    def finished(self) -> bool:
        return bool(self.result or self.digest or self.error)

    @property
    def fraction(self) -> float:
        """The whole push, 0…1; every layer weighs the same."""
        if self.result or self.digest:
            return 1.0
        if not self.layers:
            return 0.0
        return sum(layer.fraction for layer in self.layers.values()) / len(self.layers)

    def summary(self) -> str:
        """One line for the user: the outcome when there is one, else the latest step."""
        if self.error:
            return f"Error: {self.error}"
        if self.result or self.digest:
            return f"Pushed {self.reference}: {self.digest or self.result}"
        if self.header:
            return f"{self.header} ({len(self.layers)} layers)"
        return f"Pushing {self.reference}…"


async def run_push(
    client: EngineClient,
    progress: PushProgress,
    on_message: Callable[[], None] | None = None,
) -> PushProgress:
    """The whole push: credentials (in a thread), the stream folded into ``progress``
    (``on_message()`` after each message), then ``PushFailed`` if the engine reported an error."""
    reference = progress.reference
    auth = await asyncio.to_thread(pull_auth, reference)
    async for message in push_image(client, reference, auth):
        progress.update(message)
        if on_message is not None:
            on_message()
    if progress.error:
        raise PushFailed(500, progress.error)
    if not progress.finished:
        raise PushFailed(500, f"the engine ended the push of {reference} without a result")
    return progress
