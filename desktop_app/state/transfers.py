"""The progress of an image transfer (pull or push) for the app: the engine's JSON progress
messages folded into one row per layer, an overall fraction and the outcome. What differs
between a pull and a push — which statuses end a layer, which phases count bytes, how the
stream names its repository and its result — is a ``Verb``; the fold is one.

Messages are spelt as dockerd spells them. A pull: ``Pulling from <repo>`` (with the tag as
``id``), per layer ``Pulling fs layer``, ``Downloading``/``Extracting`` with ``progressDetail
{current, total}``, ``Pull complete`` or ``Already exists``, then ``Digest: …`` and ``Status:
…``. A push: ``The push refers to repository [...]``, per layer ``Preparing``, ``Waiting``,
``Pushing`` with progress, then ``Pushed``, ``Layer already exists`` or ``Mounted from
<repo>``; each tag ends with ``<tag>: digest: sha256:… size: N`` and an ``aux`` message. Either
may carry ``{"error": …}`` instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.state.rows import human_size
from doca.client import EngineError

Message = dict[str, Any]


class TransferFailed(EngineError):
    """The transfer did not finish: the engine's error message (status 500, as a failed
    stream reports it), or why no credentials could be had (status 0: never asked)."""


@dataclass(frozen=True)
class Verb:
    noun: str  # "pull", "push": for messages
    finished: frozenset[str]  # a layer with one of these is done
    finished_prefix: str  # ... or with a status starting with this ("Mounted from ")
    halfway: frozenset[str]  # done with the first phase (a pull's download)
    # Statuses that move bytes: (where the phase starts in the layer's share, its span).
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    header: str = ""  # the status that names the repository
    new_phase_resets: bool = False  # a new status counts its bytes from zero

    def is_finished(self, status: str) -> bool:
        return status in self.finished or bool(
            self.finished_prefix and status.startswith(self.finished_prefix)
        )


PULL = Verb(
    "pull",
    frozenset({"Already exists", "Pull complete"}),
    "",
    frozenset({"Verifying Checksum", "Download complete"}),
    # downloading fills the first half of a layer's share, extracting the second
    {"Downloading": (0.0, 0.5), "Extracting": (0.5, 0.5)},
    "Pulling from ",
    new_phase_resets=True,
)
PUSH = Verb(
    "push",
    frozenset({"Pushed", "Layer already exists"}),
    "Mounted from ",
    frozenset(),
    {"Pushing": (0.0, 1.0)},
    "The push refers to",
)


@dataclass
class Layer:
    id: str
    status: str
    verb: Verb
    current: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """How much of this layer's transfer is done, 0…1."""
        if self.verb.is_finished(self.status):
            return 1.0
        if self.status in self.verb.halfway:
            return 0.5
        start, span = self.verb.phases.get(self.status, (0.0, 0.0))
        part = min(self.current / self.total, 1.0) if self.total > 0 else 0.0
        return start + part * span if span else 0.0

    def text(self) -> str:
        """``abc123def456: Downloading 1.2MB / 3.4MB``, or just the status."""
        line = f"{self.id}: {self.status}"
        if self.status in self.verb.phases and self.total > 0:
            line += f" {human_size(self.current)} / {human_size(self.total)}"
        return line


class TransferProgress:
    """Where a transfer stands, from the messages seen so far (``update`` each in turn)."""

    def __init__(self, reference: str, verb: Verb) -> None:
        self.reference = reference
        self.verb = verb
        self.layers: dict[str, Layer] = {}
        self.header = ""  # "Pulling from x/busybox", "The push refers to repository [...]"
        self.digest = ""
        self.outcome = ""  # "Status: Downloaded newer image for …", "1: digest: sha256:…"
        self.error = ""

    def update(self, message: Message) -> None:
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("errorDetail") or {}
            self.error = str(message.get("error") or detail.get("message") or
                             f"{self.verb.noun} failed")  # fmt: skip
            return
        aux = message.get("aux")
        if isinstance(aux, dict):
            self.digest = str(aux.get("Digest") or self.digest)
            return
        status = str(message.get("status") or "")
        layer = str(message.get("id") or "")
        if status.startswith(self.verb.header):
            self.header = status
        elif layer:
            self._update_layer(layer, status, message.get("progressDetail") or {})
        elif status.startswith("Digest: "):
            self.digest = status.removeprefix("Digest: ").strip()
        elif status.startswith("Status: ") or ": digest: " in status:
            self.outcome = status

    def _update_layer(self, layer: str, status: str, detail: dict[str, Any]) -> None:
        row = self.layers.setdefault(layer, Layer(layer, status, self.verb))
        if status != row.status and self.verb.new_phase_resets:
            row.current = 0
        row.status = status
        if detail.get("total"):
            row.total = int(detail["total"])
            row.current = int(detail.get("current") or 0)

    @property
    def done(self) -> bool:
        """The engine said the transfer succeeded."""
        return bool(self.outcome) or (self.verb is PUSH and bool(self.digest))

    @property
    def finished(self) -> bool:
        return self.done or bool(self.error)

    @property
    def fraction(self) -> float:
        """The whole transfer, 0…1; every layer weighs the same (sizes are not known up
        front)."""
        if self.done:
            return 1.0
        if not self.layers:
            return 0.0
        return sum(layer.fraction for layer in self.layers.values()) / len(self.layers)

    def summary(self) -> str:
        """One line for the user: the outcome when there is one, else the latest step."""
        if self.error:
            return f"Error: {self.error}"
        if self.done and self.verb is PULL:
            return self.outcome.removeprefix("Status: ")
        if self.done:
            return f"Pushed {self.reference}: {self.digest or self.outcome}"
        if self.header:
            return f"{self.header} ({len(self.layers)} layers)"
        return f"{self.verb.noun.capitalize()}ing {self.reference}…"


async def fold_stream(
    messages: AsyncIterator[Message],
    progress: TransferProgress,
    on_message: Callable[[], None] | None = None,
    failure: type[TransferFailed] = TransferFailed,
) -> TransferProgress:
    """Fold the stream into ``progress`` (``on_message()`` after each message); ``failure``
    when the engine reported an error or ended without a result."""
    async for message in messages:
        progress.update(message)
        if on_message is not None:
            on_message()
    if progress.error:
        raise failure(500, progress.error)
    if not progress.finished:
        raise failure(500, f"the engine ended the {progress.verb.noun} of "
                           f"{progress.reference} without a result")  # fmt: skip
    return progress


async def stream_with_errors(messages: AsyncIterator[Message]) -> AsyncIterator[Message]:
    """The stream, with an engine error after it began turned into an ``error`` message (so
    it is shown where the progress is); one before it began raises."""
    started = False
    try:
        async for message in messages:
            started = True
            yield message
    except EngineError as exc:
        if not started:
            raise
        yield {"error": exc.message, "errorDetail": {"message": exc.message}}
