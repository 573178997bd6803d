"""Waiting for a process that is not our child (conmon daemonizes itself) without polling:
a pidfd becomes readable when the process exits."""

from __future__ import annotations

import asyncio
import contextlib
import os


def is_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it has exited for our purposes.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[0] != b"Z"
    return True


async def wait_for_exit(pid: int) -> None:
    """Return once ``pid`` has exited (at once if it is gone already)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        if is_alive(pid):
            await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
