"""An attached session over a hijacked connection, as the docker CLI's hijackedIOStreamer runs
it: the container's output to stdout and stderr, local stdin to the container (through the
detach keys with a TTY), the terminal in raw mode meanwhile; and signals passed on to the
container."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from doca.cli.container_terminal import (
    DetachMatcher,
    follow_terminal_size,
    raw_terminal,
    read_chunks,
)
from doca.client.resources import Hijacked

# What the docker CLI forwards to the container (all it can catch but SIGCHLD and SIGPIPE).
PROXIED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                   signal.SIGUSR1, signal.SIGUSR2)  # fmt: skip
_HIGH_WATER = 1 << 20


def write_output(stream: int, chunk: bytes) -> None:
    """A chunk of container output to our stdout (stream 1) or stderr (2)."""
    out = sys.stderr.buffer if stream == 2 else sys.stdout.buffer
    out.write(chunk)
    out.flush()


@dataclass
class Session:
    """What an attached session connects: ``stdin`` to send ours to the container, ``tty``
    when the container has one (its output is then all stdout), ``detach_keys`` that end the
    session with a TTY."""

    stdin: bool
    tty: bool
    detach_keys: bytes
    # Sends the terminal's size to the container's TTY; None when ours is not one.
    resize: Callable[[int, int], Awaitable[object]] | None = None
    # Make a shell in the TTY draw its prompt again (`attach` does it).
    redraw: bool = False


async def _pump_output(hijacked: Hijacked, session: Session, restore: Callable[[], None]) -> None:
    output, _ = hijacked
    try:
        async for stream, chunk in output:
            if session.tty or stream in (1, 2):
                write_output(1 if session.tty else stream, chunk)
    finally:
        # Back to a normal terminal as soon as the output ends, before anything is printed.
        restore()


async def _pump_input(hijacked: Hijacked, session: Session, restore: Callable[[], None]) -> bool:
    """Stdin to the container until its end (then close our side); True when the detach keys
    were typed."""
    _, transport = hijacked
    matcher = DetachMatcher(session.detach_keys) if session.tty else None
    detached = False
    async for chunk in read_chunks(sys.stdin.fileno()):
        if matcher is not None:
            chunk, detached = matcher.feed(chunk)
        if chunk and not transport.is_closing():
            transport.write(chunk)
            while transport.get_write_buffer_size() > _HIGH_WATER and not transport.is_closing():
                await asyncio.sleep(0.01)
        if detached:
            break
    restore()
    if not detached and not transport.is_closing() and transport.can_write_eof():
        transport.write_eof()
    return detached


async def stream_session(hijacked: Hijacked, session: Session) -> bool:
    """Run the session until the container's output ends (after our stdin ended, if it is
    attached) or the detach keys are typed; True for the latter."""
    _, transport = hijacked
    with contextlib.ExitStack() as stack:
        # Raw first: keys typed once the container's shell redraws must not be the terminal's.
        restore = stack.enter_context(
            raw_terminal(sys.stdin.fileno(), session.stdin and session.tty)
        )
        if session.resize is not None:
            stack.enter_context(follow_terminal_size(session.resize, session.redraw))
        output = asyncio.ensure_future(_pump_output(hijacked, session, restore))
        if not session.stdin:
            # The docker CLI closes its side at once when it sends no stdin.
            if transport.can_write_eof():
                transport.write_eof()
            await output
            return False
        stdin = asyncio.ensure_future(_pump_input(hijacked, session, restore))
        try:
            done, _ = await asyncio.wait({output, stdin}, return_when=asyncio.FIRST_COMPLETED)
            if output in done:
                output.result()
                return False
            if stdin.result():
                return True
            await output
            return False
        finally:
            for task in (output, stdin):
                task.cancel()
            await asyncio.gather(output, stdin, return_exceptions=True)


@contextlib.contextmanager
def proxy_signals(kill: Callable[[str], Awaitable[object]], wanted: bool = True) -> Iterator[None]:
    """Pass the signals the CLI receives on to the container while the block runs (the docker
    CLI's --sig-proxy)."""
    if not wanted:
        yield
        return
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()

    async def send(name: str) -> None:
        with contextlib.suppress(Exception):
            await kill(name)

    def forward(number: signal.Signals) -> None:
        task = loop.create_task(send(number.name))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for number in PROXIED_SIGNALS:
        loop.add_signal_handler(number, forward, number)
    try:
        yield
    finally:
        for number in PROXIED_SIGNALS:
            loop.remove_signal_handler(number)
        for task in tasks:
            task.cancel()
