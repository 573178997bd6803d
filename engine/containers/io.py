"""A container's output and input: connecting to conmon's attach socket (before the process
starts, for ``docker run``) and reading its log file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from engine.containers.lifecycle import Lifecycle
from engine.containers.model import ContainerRecord
from engine.containers.state import Status, is_running
from engine.errors import Conflict
from engine.runtime.attach import STDERR, STDOUT, AttachConnection, resize
from engine.runtime.k8s_log import format_time, read_log
from engine.runtime.oci import RuntimeFailure


@asynccontextmanager
async def attach_connection(
    lifecycle: Lifecycle, record: ContainerRecord
) -> AsyncIterator[asyncio.Future[AttachConnection]]:
    """A future for the attach connection: connected now if the container runs, else as soon
    as it has been created by its next start, before its process runs."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[AttachConnection] = loop.create_future()
    paths = lifecycle.paths(record)
    cancel = None
    if record.state.status in (Status.RUNNING, Status.PAUSED):
        future.set_result(await AttachConnection.connect(paths.attach_socket))
    else:

        async def connect(error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(await AttachConnection.connect(paths.attach_socket))

        cancel = lifecycle.add_attach_hook(record.id, connect)
    try:
        yield future
    finally:
        if cancel is not None:
            cancel()
        if future.done() and not future.cancelled() and future.exception() is None:
            future.result().close()
        else:
            future.cancel()


async def container_logs(
    lifecycle: Lifecycle,
    record: ContainerRecord,
    *,
    stdout: bool,
    stderr: bool,
    follow: bool,
    since_ns: int | None,
    until_ns: int | None,
    tail: int | None,
    timestamps: bool,
) -> AsyncIterator[tuple[int, bytes]]:
    """(stream, bytes) chunks of the container's log, Docker's stream numbers."""
    running = record.state.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)
    records = read_log(
        lifecycle.paths(record).log,
        since_ns=since_ns,
        until_ns=until_ns,
        tail=tail,
        follow=follow and running,
        exited=lifecycle.exited(record.id),
    )
    async for entry in records:
        stream = STDOUT if entry.stream == "stdout" else STDERR
        if (stream == STDOUT and not stdout) or (stream == STDERR and not stderr):
            continue
        data = entry.data
        if timestamps:
            data = format_time(entry.time_ns).encode() + b" " + data
        yield stream, data


def resize_tty(lifecycle: Lifecycle, record: ContainerRecord, height: int, width: int) -> None:
    if not is_running(record.state.status):
        raise Conflict(f"Container {record.bare_name} is not running")
    try:
        resize(lifecycle.paths(record).ctl, height, width)
    except RuntimeFailure as exc:  # it exited a moment ago; its exit is being recorded
        raise Conflict(f"Container {record.bare_name} is not running") from exc
