"""``docker pull`` for the desktop app: the streaming call, and ``PullProgress``, which folds the
engine's JSON progress messages into one row per layer, an overall fraction and the outcome.

Messages are spelt as dockerd spells them: ``{"status": "Pulling fs layer", "id": "<layer>"}``,
``Downloading``/``Extracting`` with ``progressDetail {current, total}``, ``Pull complete``,
``Already exists``, then ``Digest: …`` and ``Status: …`` lines, or ``{"error": …}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.state.rows import human_size
from doca.client import EngineClient, EngineError
from doca.credhelper.dockerconfig import ConfigError, auth_header_value
from doca.credhelper.helpers import HelperError

Message = dict[str, Any]

HUB_DOMAIN = "docker.io"
# A layer's share of the overall bar: downloading fills the first half, extracting the second.
# Layers that were already stored count as finished.
_FINISHED = frozenset({"Already exists", "Pull complete"})
_DOWNLOADED = frozenset({"Verifying Checksum", "Download complete"})


class PullFailed(EngineError):
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
    started = False
    try:
        async for message in client.images.pull(name, tag, platform or "", auth):
            started = True
            yield message
    except EngineError as exc:
        if not started:
            raise
        yield {"error": exc.message, "errorDetail": {"message": exc.message}}


@dataclass
class LayerProgress:
    id: str
    status: str
    current: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """How much of this layer's pull is done, 0…1."""
        if self.status in _FINISHED:
            return 1.0
        if self.status in _DOWNLOADED:
            return 0.5
        part = min(self.current / self.total, 1.0) if self.total > 0 else 0.0
        if self.status == "Downloading":
            return part / 2
        if self.status == "Extracting":
            return 0.5 + part / 2
        return 0.0

    def text(self) -> str:
        """``abc123def456: Downloading 1.2MB / 3.4MB``, or just the status."""
        line = f"{self.id}: {self.status}"
        if self.status in ("Downloading", "Extracting") and self.total > 0:
            line += f" {human_size(self.current)} / {human_size(self.total)}"
        return line


class PullProgress:
    """Where a pull stands, from the messages seen so far (``update`` each one in turn)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.layers: dict[str, LayerProgress] = {}
        self.header = ""  # "Pulling from x/busybox"
        self.digest = ""
        self.status = ""  # "Status: Downloaded newer image for …"
        self.error = ""

    def update(self, message: Message) -> None:
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("errorDetail") or {}
            self.error = str(message.get("error") or detail.get("message") or "pull failed")
            return
        status = str(message.get("status") or "")
        layer = str(message.get("id") or "")
        if layer and status.startswith("Pulling from "):
            self.header = status
        elif layer:
            self._update_layer(layer, status, message.get("progressDetail") or {})
        elif status.startswith("Digest: "):
            self.digest = status.removeprefix("Digest: ").strip()
        elif status.startswith("Status: "):
            self.status = status

    def _update_layer(self, layer: str, status: str, detail: dict[str, Any]) -> None:
        row = self.layers.setdefault(layer, LayerProgress(layer, status))
        if status != row.status:
            row.current = 0  # a new phase counts its bytes from zero
        row.status = status
        if detail.get("total"):
            row.total = int(detail["total"])
            row.current = int(detail.get("current") or 0)

    @property
    def finished(self) -> bool:
        return bool(self.status or self.error)

    @property
    def fraction(self) -> float:
        """The whole pull, 0…1; every layer weighs the same (sizes are not known up front)."""
        if self.status:
            return 1.0
        if not self.layers:
            return 0.0
        return sum(layer.fraction for layer in self.layers.values()) / len(self.layers)

    def summary(self) -> str:
        """One line for the user: the outcome when there is one, else the latest step."""
        if self.error:
            return f"Error: {self.error}"
        if self.status:
            return self.status.removeprefix("Status: ")
        if self.header:
            return f"{self.header} ({len(self.layers)} layers)"
        return f"Pulling {self.reference}…"

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
    async for message in pull_image(client, reference, platform, auth):
        progress.update(message)
        if on_message is not None:
            on_message()
    progress.raise_for_error()
    if not progress.finished:
        raise PullFailed(500, f"the engine ended the pull of {reference} without a result")
    return progress
