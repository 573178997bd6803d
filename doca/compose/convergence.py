"""Bringing one service to what the project says, as Compose v2's convergence does: as many
replicas as ``scale``/``deploy.replicas`` (or ``--scale``) ask, numbered from 1; a replica whose
config hash or image changed is recreated, a stopped one started, extras removed from the
highest number down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from doca.client import EngineClient
from doca.compose import labels as L
from doca.compose.errors import ComposeError
from doca.compose.file_objects import injected_tar
from doca.compose.project import Project
from doca.compose.service_hash import service_hash
from doca.compose.translate import container_config
from doca.compose.translate_runtime import replicas

Report = Callable[[str], None]
HEALTH_TIMEOUT = 120.0


def number_of(container: dict[str, Any]) -> int:
    return int((container.get("Labels") or {}).get(L.NUMBER, "1") or 1)


def name_of(container: dict[str, Any]) -> str:
    names = container.get("Names") or [""]
    return str(names[0]).lstrip("/")


async def remove_container(
    client: EngineClient,
    container: dict[str, Any],
    timeout: int | None,
    report: Report,
    quiet: bool = False,
) -> None:
    name = name_of(container)
    if container.get("State") in ("running", "restarting", "paused"):
        await client.containers.stop(container["Id"], timeout=timeout)
        if not quiet:
            report(f" Container {name}  Stopped")
    await client.containers.remove(container["Id"], force=True, volumes=True)
    if not quiet:
        report(f" Container {name}  Removed")


async def create_replica(
    client: EngineClient, project: Project, name: str, number: int, image_id: str,
    report: Report, start: bool = True,
    adjust: Callable[[dict[str, Any]], None] | None = None,
) -> str:  # fmt: skip
    """Create replica ``number`` (secrets and configs that are not files written into it)
    and start it; its name. ``adjust`` edits the ContainerCreate body first (``run`` makes a
    one-off of it)."""
    container = project.container_name(name, number)
    config = container_config(project, name, number, image_id, L.COMPOSE_VERSION,
                              project.environment)  # fmt: skip
    if adjust is not None:
        adjust(config)
    identifier = await client.containers.create(config, name=container)
    service = project.services[name]
    for kind, definitions in (("secrets", project.secrets), ("configs", project.configs)):
        data = injected_tar(kind, service, definitions, project.environment)
        if data is not None:
            await client.containers.put_archive(identifier, "/", data, copy_uid_gid=True)
    report(f" Container {container}  Created")
    if start:
        await client.containers.start(identifier)
        report(f" Container {container}  Started")
    return container


async def converge(
    client: EngineClient,
    project: Project,
    name: str,
    image_id: str,
    existing: list[dict[str, Any]],
    force_recreate: bool,
    timeout: int | None,
    report: Report,
    scale: int | None = None,
) -> None:
    service = project.services[name]
    wanted = replicas(service) if scale is None else scale
    if wanted > 1 and service.get("container_name"):
        raise ComposeError(f'services.{name}: can\'t set container_name and scale: container '
                           "name must be unique")  # fmt: skip
    expected = service_hash(service)
    mine = sorted((c for c in existing if c["Labels"].get(L.SERVICE) == name), key=number_of)
    for container in reversed(mine[wanted:]):
        await remove_container(client, container, timeout, report)
    kept = mine[:wanted]
    for container in kept:
        labels = container["Labels"]
        unchanged = labels.get(L.CONFIG_HASH) == expected and labels.get(L.IMAGE) == image_id
        if unchanged and not force_recreate:
            if container.get("State") == "running":
                report(f" Container {name_of(container)}  Running")
            else:
                await client.containers.start(container["Id"])
                report(f" Container {name_of(container)}  Started")
            continue
        report(f" Container {name_of(container)}  Recreate")
        await remove_container(client, container, timeout, report, quiet=True)
        await create_replica(client, project, name, number_of(container), image_id, report)
    numbers = [number_of(c) for c in kept]
    for number in range(max(numbers, default=0) + 1, max(numbers, default=0) + 1 +
                        wanted - len(kept)):  # fmt: skip
        await create_replica(client, project, name, number, image_id, report)


async def wait_for_dependency(
    client: EngineClient, project: Project, name: str, condition: str, report: Report
) -> None:
    """Block until service ``name`` meets ``condition`` (depends_on): started, healthy or
    exited 0."""
    if condition == "service_started":
        return
    container = project.container_name(name, 1)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    if condition == "service_completed_successfully":
        code = await client.containers.wait(container)
        if code != 0:
            raise ComposeError(f"service {name!r} didn't complete successfully: exit {code}")
        return
    while True:
        state = (await client.containers.inspect(container)).get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            report(f" Container {container}  Healthy")
            return
        if health is None:
            raise ComposeError(f"container {container} has no healthcheck configured")
        if health == "unhealthy" or not state.get("Running"):
            raise ComposeError(f"dependency failed to start: container {container} is unhealthy")
        if time.monotonic() > deadline:
            raise ComposeError(f"container {container} did not become healthy in time")
        await asyncio.sleep(0.2)
