"""engine.runtime.pidwatch: liveness and exit of processes that are not the engine's children."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time

from engine.runtime.pidwatch import is_alive, wait_for_exit


def _reap_in_thread(proc: subprocess.Popen[bytes]) -> threading.Thread:
    thread = threading.Thread(target=proc.wait, daemon=True)
    thread.start()
    return thread


def _zombie() -> subprocess.Popen[bytes]:
    """A child that has exited but is not reaped yet."""
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat", "rb") as stat:
            if stat.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return proc
        time.sleep(0.01)
    proc.wait()
    raise AssertionError("the child never became a zombie")


def test_is_alive_for_this_process_and_init() -> None:
    assert is_alive(os.getpid())
    assert is_alive(1)


def test_is_alive_is_false_for_no_pid() -> None:
    assert not is_alive(0)
    assert not is_alive(-1)


def test_is_alive_for_a_running_child() -> None:
    proc = subprocess.Popen(["sleep", "5"])
    try:
        assert is_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_a_zombie_is_not_alive() -> None:
    proc = _zombie()
    try:
        os.kill(proc.pid, 0)  # the zombie still answers kill(0)...
        assert is_alive(proc.pid) is False  # ...but has exited
    finally:
        proc.wait()


def test_a_reaped_process_is_not_alive() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert is_alive(proc.pid) is False


async def test_wait_for_exit_returns_after_the_process_exits() -> None:
    proc = subprocess.Popen(["sleep", "0.3"])
    reaper = _reap_in_thread(proc)
    started = time.monotonic()
    await asyncio.wait_for(wait_for_exit(proc.pid), timeout=5)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.2
    reaper.join(timeout=5)
    assert proc.returncode == 0


async def test_wait_for_exit_does_not_return_while_the_process_runs() -> None:
    proc = subprocess.Popen(["sleep", "5"])
    try:
        waiter = asyncio.ensure_future(wait_for_exit(proc.pid))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        proc.kill()
        await asyncio.wait_for(waiter, timeout=5)
    finally:
        proc.kill()
        proc.wait()


async def test_wait_for_exit_returns_at_once_for_a_dead_pid() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    started = time.monotonic()
    await asyncio.wait_for(wait_for_exit(proc.pid), timeout=1)
    assert time.monotonic() - started < 0.5


async def test_wait_for_exit_returns_at_once_for_a_zombie() -> None:
    proc = _zombie()
    try:
        await asyncio.wait_for(wait_for_exit(proc.pid), timeout=1)
    finally:
        proc.wait()


async def test_cancelling_the_wait_releases_the_pidfd() -> None:
    proc = subprocess.Popen(["sleep", "5"])
    try:
        before = len(os.listdir("/proc/self/fd"))
        waiter = asyncio.ensure_future(wait_for_exit(proc.pid))
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        proc.kill()
        proc.wait()
