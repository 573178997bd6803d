"""``compose stop|start|restart|kill|pause|unpause|rm``: one engine call per container of the
project (of the named services), each reported as Compose reports it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from doca.client import EngineClient
from doca.compose import labels as L
from doca.compose.convergence import name_of
from doca.compose.operations import Report, project_containers

Action = Callable[[str], Awaitable[object]]


async def for_containers(
    client: EngineClient,
    project: str,
    services: list[str],
    report: Report,
    action: Action,
    verb: str,
    states: tuple[str, ...] | None = None,
    reverse: bool = False,
    one_off: bool = False,
) -> int:
    """``action`` on each of the project's containers of ``services`` (all without names) in
    one of ``states`` (any without); how many there were."""
    rows = await project_containers(client, project, one_off=one_off)
    chosen: list[dict[str, Any]] = [
        c for c in rows
        if (not services or c["Labels"].get(L.SERVICE) in services)
        and (states is None or c.get("State") in states)
    ]  # fmt: skip
    for container in reversed(chosen) if reverse else chosen:
        await action(container["Id"])
        report(f" Container {name_of(container)}  {verb}")
    return len(chosen)


async def stop(client: EngineClient, project: str, services: list[str], report: Report,
               timeout: int | None = None) -> None:  # fmt: skip
    async def action(identifier: str) -> None:
        await client.containers.stop(identifier, timeout=timeout)

    await for_containers(client, project, services, report, action, "Stopped",
                         ("running", "restarting", "paused"), reverse=True)  # fmt: skip


async def start(client: EngineClient, project: str, services: list[str], report: Report) -> None:
    await for_containers(client, project, services, report, client.containers.start, "Started",
                         ("created", "exited"))  # fmt: skip


async def restart(client: EngineClient, project: str, services: list[str], report: Report,
                  timeout: int | None = None) -> None:  # fmt: skip
    async def action(identifier: str) -> None:
        await client.containers.restart(identifier, timeout=timeout)

    await for_containers(client, project, services, report, action, "Started")


async def kill(client: EngineClient, project: str, services: list[str], report: Report,
               signal: str = "SIGKILL") -> None:  # fmt: skip
    async def action(identifier: str) -> None:
        await client.containers.kill(identifier, signal)

    await for_containers(client, project, services, report, action, "Killed",
                         ("running", "restarting", "paused"), one_off=True)  # fmt: skip


async def pause(client: EngineClient, project: str, services: list[str], report: Report) -> None:
    await for_containers(client, project, services, report, client.containers.pause, "Paused",
                         ("running",))  # fmt: skip


async def unpause(client: EngineClient, project: str, services: list[str], report: Report) -> None:
    await for_containers(client, project, services, report, client.containers.unpause,
                         "Unpaused", ("paused",))  # fmt: skip


async def remove_stopped(
    client: EngineClient, project: str, services: list[str], report: Report,
    volumes: bool = False,
) -> int:  # fmt: skip
    async def action(identifier: str) -> None:
        await client.containers.remove(identifier, force=True, volumes=volumes)

    return await for_containers(client, project, services, report, action, "Removed",
                                ("created", "exited", "dead"))  # fmt: skip
