"""Giving freed heap back to the system when the engine goes idle.

An image load, a pull or a burst of container starts allocates and frees a few megabytes;
glibc's allocator keeps what was freed in the middle of its heaps for reuse, so an engine that
did some work and then idles would keep that memory resident for good. ``malloc_trim(0)``
returns every whole free page. It runs once after a burst of requests has ended, never
periodically: an idle engine does not wake up for it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Seconds without a finished request before trimming. A trim takes well under a millisecond;
#: waiting a little spares it to each request of a burst.
IDLE_DELAY = 0.5


def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only (not musl)
    except (OSError, AttributeError):
        return None
    return trim


class HeapTrimmer:
    """``touch`` after each piece of work: ``IDLE_DELAY`` seconds after the last one, the
    allocator's free pages go back to the system."""

    def __init__(self, delay: float = IDLE_DELAY) -> None:
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._trim: Callable[[int], int] | None = None
        self._looked_up = False

    def touch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._delay, self.trim)

    def trim(self) -> None:
        self._timer = None
        if not self._looked_up:
            self._looked_up = True
            self._trim = _malloc_trim()
        if self._trim is not None:
            self._trim(0)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
