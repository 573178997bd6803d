"""Network namespaces kept alive by a bind mount on a file, as ``ip netns`` and dockerd do, so a
container's network exists before its process starts and outlives the engine.

Namespaces belong to threads: the work that must happen inside one runs in a short-lived thread
of its own that enters it, so no pooled thread is ever left in a container's namespace.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str, path: Path | str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}", str(path))


def _in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` in a new thread that is discarded afterwards; re-raise what it raised."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed back to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def create(path: Path) -> None:
    """A new network namespace pinned at ``path`` (which must not exist)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))

    def work() -> None:
        _check(_libc.unshare(CLONE_NEWNET), "unshare network namespace", path)
        own = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
        _check(_libc.mount(own, bytes(path), b"none", MS_BIND, None), "pin namespace", path)

    try:
        _in_thread(work)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def remove(path: Path) -> None:
    """Unpin and delete a namespace file; the namespace goes when nothing else uses it."""
    if _libc.umount2(bytes(path), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise OSError(code, f"unmount namespace: {os.strerror(code)}", str(path))
    path.unlink(missing_ok=True)


def exists(path: Path) -> bool:
    return path.exists() and os.path.ismount(path)


def run_in(path: Path | str, work: Callable[[], T]) -> T:
    """Run ``work`` inside the namespace pinned at ``path`` (blocking)."""

    def enter_and_work() -> T:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "enter network namespace", path)
        finally:
            os.close(fd)
        return work()

    return _in_thread(enter_and_work)


def open_fd(path: Path) -> int:
    """A descriptor of the namespace, for netlink's IFLA_NET_NS_FD; close with ``close_fd``."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def close_fd(fd: int) -> None:
    os.close(fd)
