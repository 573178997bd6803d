"""The JSON progress messages of ``docker pull`` and ``docker push``, spelt as dockerd spells them.

Pure functions: the CLI redraws one line per layer ``id`` from ``status``, ``progressDetail``
and the preformatted ``progress`` bar (jsonmessage's JSONProgress.String at dockerd's width).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

Message = dict[str, Any]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BAR = 50
# How often a running transfer reports; the CLI redraws at most this often anyway.
REPORT_INTERVAL = 0.1


def short_digest(digest: str) -> str:
    """The 12 hex digits dockerd shows for a layer (stringid.TruncateID)."""
    return digest.split(":", 1)[-1][:12]


def human_size(size: float) -> str:
    """go-units' HumanSize: decimal units, four significant digits (``1.235MB``)."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.4g}{_UNITS[unit]}"


def progress_bar(current: int, total: int) -> str:
    """``[=====>      ]  1.2MB/2.4MB``; just the size when the total is unknown."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(int(current / total * 100) // 2, _BAR)
    bar = "[" + "=" * filled + ">" + " " * (_BAR - filled) + "] "
    if current > total:
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, layer: str = "") -> Message:
    """A line of its own (``Digest: …``) or, with ``layer``, a layer's state without progress."""
    if not layer:
        return {"status": text}
    return {"status": text, "progressDetail": {}, "id": layer}


def transfer(text: str, layer: str, current: int, total: int) -> Message:
    """``Downloading``/``Extracting``/``Pushing`` with the byte counts and the bar."""
    return {
        "status": text,
        "progressDetail": {"current": current, "total": total},
        "progress": progress_bar(current, total),
        "id": layer,
    }


def pulling_from(tag_or_digest: str, path: str) -> Message:
    return {"status": f"Pulling from {path}", "id": tag_or_digest}


def pull_status(reference: str, downloaded: bool) -> Message:
    if downloaded:
        return status(f"Status: Downloaded newer image for {reference}")
    return status(f"Status: Image is up to date for {reference}")


def push_result(tag: str, digest: str, size: int) -> list[Message]:
    """The closing line of a pushed tag and the aux message docker-py and the CLI read."""
    return [
        status(f"{tag}: digest: {digest} size: {size}"),
        {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}},
    ]


class Throttle:
    """Reports ``transfer`` messages for one layer at most every REPORT_INTERVAL seconds."""

    def __init__(
        self,
        send: Callable[[Message], None],
        text: str,
        layer: str,
        total: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.text = text
        self.layer = layer
        self.total = total
        self._clock = clock
        self._last = -REPORT_INTERVAL

    def __call__(self, current: int, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._last >= REPORT_INTERVAL:
            self._last = now
            self._send(transfer(self.text, self.layer, current, self.total))


class ProgressQueue:
    """Messages from the pull or push (its tasks and worker threads) to the one response writer.

    ``emit`` may be called from any thread; ``close`` ends the iteration after what was
    emitted before it.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue()

    def emit(self, message: Message) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self._queue.get()) is not None:
            yield message
