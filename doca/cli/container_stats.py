"""`stats` and `top`: resource use of containers in docker's table (CPU %, MEM USAGE / LIMIT,
…), streamed or once, and the processes of a container as ps lists them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from doca.cli import formatting
from doca.cli.container_command import OPTIONS_FIRST, DockerCommand
from doca.cli.runner import GENERAL_ERROR, Session, print_error
from doca.client import EngineClient, EngineError, EngineUnavailable

STATS_HEADER = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                "BLOCK I/O", "PIDS")  # fmt: skip
NO_VALUE = "--"
# The docker CLI redraws every half second and gives up on a container after 2 silent ones.
REFRESH = 0.5
SAMPLE_TIMEOUT = 2.0
INTERRUPTED = 130


@dataclass
class StatsEntry:
    """One container's figures, computed from a stats sample as the docker CLI computes them."""

    container: str
    name: str = ""
    id: str = ""
    cpu: float = 0.0
    memory: float = 0.0
    memory_limit: float = 0.0
    memory_percent: float = 0.0
    net_rx: float = 0.0
    net_tx: float = 0.0
    block_read: float = 0.0
    block_write: float = 0.0
    pids: int = 0
    invalid: bool = False
    error: EngineError | None = field(default=None, repr=False)


def cpu_percent(sample: Mapping[str, Any]) -> float:
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    usage = float((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
    previous = float((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or 0) or float(
        len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    )
    if system > 0 and usage - previous > 0:
        return (usage - previous) / system * online * 100.0
    return 0.0


def memory_usage(memory: Mapping[str, Any]) -> float:
    """Usage without the inactive page cache (cgroup v1's total_inactive_file, v2's
    inactive_file), as the docker CLI shows it."""
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
        return float(usage - stats["total_inactive_file"])
    inactive = int(stats.get("inactive_file") or 0)
    return float(usage - inactive) if inactive < usage else float(usage)


def entry_from_sample(container: str, sample: Mapping[str, Any]) -> StatsEntry:
    memory_stats = sample.get("memory_stats") or {}
    memory = memory_usage(memory_stats)
    limit = float(memory_stats.get("limit") or 0)
    block = [0.0, 0.0]
    for item in (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(item.get("op") or "")[:1].lower()
        if op in ("r", "w"):
            block[op == "w"] += float(item.get("value") or 0)
    networks = (sample.get("networks") or {}).values()
    return StatsEntry(
        container=container, name=str(sample.get("name") or ""), id=str(sample.get("id") or ""),
        cpu=cpu_percent(sample), memory=memory, memory_limit=limit,
        memory_percent=memory / limit * 100.0 if limit else 0.0,
        net_rx=sum(float(n.get("rx_bytes") or 0) for n in networks),
        net_tx=sum(float(n.get("tx_bytes") or 0) for n in networks),
        block_read=block[0], block_write=block[1],
        pids=int((sample.get("pids_stats") or {}).get("current") or 0),
    )  # fmt: skip


def stats_row(entry: StatsEntry, truncate: bool = True) -> tuple[str, ...]:
    """One row of `docker stats`' default table."""
    name = entry.name[1:] if len(entry.name) > 1 else NO_VALUE
    identifier = entry.id[:12] if truncate else entry.id
    if entry.invalid:
        return (identifier, name, NO_VALUE, "-- / --", NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE)
    return (
        identifier, name, f"{entry.cpu:.2f}%",
        f"{formatting.bytes_size(entry.memory)} / {formatting.bytes_size(entry.memory_limit)}",
        f"{entry.memory_percent:.2f}%",
        f"{formatting.human_size(entry.net_rx)} / {formatting.human_size(entry.net_tx)}",
        f"{formatting.human_size(entry.block_read)} / {formatting.human_size(entry.block_write)}",
        str(entry.pids),
    )  # fmt: skip


class _Collection:
    """The containers shown, in order, and the tasks that keep their figures; owned by one
    `stats`, which closes it."""

    def __init__(self, client: EngineClient, stream: bool) -> None:
        self.client, self.stream = client, stream
        self.entries: dict[str, StatsEntry] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.firsts: list[asyncio.Event] = []

    def add(self, container: str) -> None:
        if container in self.entries:
            return
        first = asyncio.Event()
        self.entries[container] = StatsEntry(container)
        self.firsts.append(first)
        self.tasks[container] = asyncio.ensure_future(self._collect(container, first))

    def remove(self, container: str) -> None:
        self.entries.pop(container, None)
        task = self.tasks.pop(container, None)
        if task is not None:
            task.cancel()

    def _store(self, entry: StatsEntry) -> None:
        if entry.container in self.entries:
            self.entries[entry.container] = entry

    async def _collect(self, container: str, first: asyncio.Event) -> None:
        """Keep the container's figures up to date from the engine's samples; ``first`` is set
        once there is one, or an error, or after 2 seconds without (the figures are then
        shown as unknown until a sample comes)."""
        queue: asyncio.Queue[dict[str, Any] | EngineError | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for sample in self.client.containers.stats(container, stream=self.stream):
                    queue.put_nowait(sample)
            except EngineError as error:
                queue.put_nowait(error)
            finally:
                queue.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), SAMPLE_TIMEOUT)
                except TimeoutError:
                    known = self.entries.get(container) or StatsEntry(container)
                    self._store(StatsEntry(container, known.name, known.id, invalid=True))
                    first.set()
                    continue
                if item is None:
                    return
                if isinstance(item, EngineError):
                    self._store(StatsEntry(container, invalid=True, error=item))
                    return
                self._store(entry_from_sample(container, item))
                first.set()
                if not self.stream:
                    return
        finally:
            first.set()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def first_samples(self) -> None:
        await asyncio.gather(*(first.wait() for first in self.firsts))

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def _follow_events(collection: _Collection, show_all: bool) -> None:
    """New containers join the table as they start (or, with ``-a``, are created); without
    ``-a`` the ones that die leave it."""
    filters = {"type": ["container"]}
    async for event in collection.client.events(filters=filters):
        action = str(event.get("Action") or event.get("status") or "")
        identifier = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")[:12]
        if action == "start" or (show_all and action == "create"):
            collection.add(identifier)
        elif action == "die" and not show_all:
            collection.remove(identifier)


def _screen(table: str) -> str:
    """A redraw over the previous table, as the docker CLI writes it: cursor home and the
    table, then the same again with each line's rest erased, then the rest of the screen."""
    text = f"\033[H{table}\n"
    return text + "".join(f"{line} \033[K\n" for line in text.split("\n")) + "\033[J"


@click.command(cls=DockerCommand, docker_usage="[OPTIONS] [CONTAINER...]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers.")
@click.option("--no-stream", is_flag=True, help="Print the figures once.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.argument("containers", nargs=-1)
@click.pass_obj
def stats(
    session: Session, show_all: bool, no_stream: bool, no_trunc: bool, containers: tuple[str, ...]
) -> None:
    """Display a live stream of container(s) resource usage statistics."""

    async def operation(client: EngineClient) -> int:
        collection = _Collection(client, stream=not no_stream)
        watcher: asyncio.Task[None] | None = None
        try:
            if containers:
                for container in containers:
                    collection.add(container)
            else:
                if not no_stream:
                    watcher = asyncio.ensure_future(_follow_events(collection, show_all))
                for row in await client.containers.list(all=show_all):
                    collection.add(str(row["Id"])[:12])
            await collection.first_samples()
            errors = [e.error for e in collection.entries.values() if e.error is not None]
            if containers and errors:
                for error in errors:
                    if isinstance(error, EngineUnavailable):
                        raise error
                    print_error(error, session.host)
                return GENERAL_ERROR
            while True:
                table = formatting.table(
                    STATS_HEADER,
                    (stats_row(e, not no_trunc) for e in collection.entries.values()),
                )
                if no_stream:
                    click.echo(table)
                    return 0
                sys.stdout.write(_screen(table))
                sys.stdout.flush()
                if containers and not collection.entries:
                    return 0
                await asyncio.sleep(REFRESH)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(BaseException):
                    await watcher
            await collection.close()

    try:
        sys.exit(session.run(operation))
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)


def columns(lines: Sequence[Sequence[str]], min_width: int) -> str:
    """Go's tabwriter with padding 3 and cells of at least ``min_width``; the last cell of a
    line is never padded."""
    width = max((len(line) for line in lines), default=0)
    widths = [
        max(min_width, 3 + max((len(line[i]) for line in lines if i < len(line) - 1), default=0))
        for i in range(width)
    ]
    out = []
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        out.append("".join(cells) + (line[-1] if line else ""))
    return "\n".join(out)


@click.command(
    cls=DockerCommand, context_settings=OPTIONS_FIRST, docker_usage="CONTAINER [ps OPTIONS]"
)
@click.argument("container")
@click.argument("ps_options", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def top(session: Session, container: str, ps_options: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    found = session.run(lambda client: client.containers.top(container, " ".join(ps_options)))
    lines = [list(found.get("Titles") or []), *(list(p) for p in found.get("Processes") or [])]
    click.echo(columns(lines, 20))
