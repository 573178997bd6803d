"""What ``doca compose`` does to an engine: the one place the compose package has side
effects, with ``images`` for pulls and builds. Resources are found by Compose v2's labels, so
projects made by either tool work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from doca.client import EngineClient, NotFound
from doca.compose import labels as L
from doca.compose.build_config import BuildFlags
from doca.compose.errors import ComposeError
from doca.compose.images import Output, ensure_images
from doca.compose.project import Project
from doca.compose.service_hash import service_hash
from doca.compose.translate import container_config, network_config, volume_labels

Report = Callable[[str], None]
HEALTH_TIMEOUT = 120.0


def _number(container: dict[str, Any]) -> int:
    return int((container.get("Labels") or {}).get(L.NUMBER, "1") or 1)


def _name(container: dict[str, Any]) -> str:
    names = container.get("Names") or [""]
    return str(names[0]).lstrip("/")


async def project_containers(
    client: EngineClient, project: str, all: bool = True
) -> list[dict[str, Any]]:
    rows = await client.containers.list(all=all, filters=L.project_filter(project))
    rows = [r for r in rows if (r.get("Labels") or {}).get(L.ONEOFF, "False") == "False"]
    return sorted(rows, key=lambda r: (r["Labels"].get(L.SERVICE, ""), _number(r)))


async def ensure_networks(client: EngineClient, project: Project, report: Report) -> None:
    for key, network in project.networks.items():
        try:
            await client.networks.inspect(network["name"])
            continue
        except NotFound:
            if network.get("external"):
                raise ComposeError(
                    f"network {network['name']} declared as external, but could not be found"
                ) from None
        await client.networks.create(
            network["name"], **network_config(project, key, L.COMPOSE_VERSION)
        )
        report(f" Network {network['name']}  Created")


async def ensure_volumes(client: EngineClient, project: Project, report: Report) -> None:
    for key, volume in project.volumes.items():
        try:
            await client.volumes.inspect(volume["name"])
            continue
        except NotFound:
            if volume.get("external"):
                raise ComposeError(f'external volume "{volume["name"]}" not found') from None
        await client.volumes.create(volume["name"], volume_labels(project, key, L.COMPOSE_VERSION))
        report(f" Volume {volume['name']}  Created")


def _discard(_text: str) -> None:
    pass


async def up(
    client: EngineClient,
    project: Project,
    services: list[str],
    report: Report,
    force_recreate: bool = False,
    no_deps: bool = False,
    remove_orphans: bool = False,
    timeout: int | None = None,
    build: BuildFlags | None = None,
    output: Output = _discard,
    no_build: bool = False,
    force_build: bool = False,
) -> None:
    """Get the images (missing ones built, none with ``no_build``, all with ``force_build``),
    create what is missing, recreate what changed (configuration or image), start everything,
    dependencies first."""
    order = project.start_order(services or None, with_deps=not no_deps)
    flags = None if no_build else build or BuildFlags()
    images = await ensure_images(client, project, order, report, output, flags, force_build)
    existing = await project_containers(client, project.name)
    orphans = [c for c in existing if c["Labels"].get(L.SERVICE) not in project.services
               and c["Labels"].get(L.SERVICE) not in project.disabled]  # fmt: skip
    if orphans and remove_orphans:
        for container in orphans:
            await _remove(client, container, timeout, report)
    elif orphans:
        report(f" Found orphan containers ({', '.join(_name(c) for c in orphans)}) for this "
               "project. If you removed or renamed this service in your compose file, you can "
               "run this command with the --remove-orphans flag to clean it up.")  # fmt: skip
    await ensure_networks(client, project, report)
    await ensure_volumes(client, project, report)
    for name in order:
        for dependency, condition in project.dependencies(name).items():
            if dependency in project.services:
                await _wait_for(client, project, dependency, condition["condition"], report)
        await _converge(client, project, name, images.get(name, ""), existing, force_recreate,
                        timeout, report)  # fmt: skip


async def _converge(
    client: EngineClient,
    project: Project,
    name: str,
    image_id: str,
    existing: list[dict[str, Any]],
    force_recreate: bool,
    timeout: int | None,
    report: Report,
) -> None:
    expected = service_hash(project.services[name])
    mine = [c for c in existing if c["Labels"].get(L.SERVICE) == name]
    for container in mine[1:]:  # scaled down to one replica
        await _remove(client, container, timeout, report)
    if mine:
        container = mine[0]
        labels = container["Labels"]
        unchanged = labels.get(L.CONFIG_HASH) == expected and labels.get(L.IMAGE) == image_id
        if unchanged and not force_recreate:
            if container.get("State") == "running":
                report(f" Container {_name(container)}  Running")
            else:
                await client.containers.start(container["Id"])
                report(f" Container {_name(container)}  Started")
            return
        report(f" Container {_name(container)}  Recreate")
        await _remove(client, container, timeout, report, quiet=True)
    container_name = L.container_name(project.name, name, 1)
    config = container_config(project, name, 1, image_id, L.COMPOSE_VERSION, project.environment)
    await client.containers.create(config, name=container_name)
    report(f" Container {container_name}  Created")
    await client.containers.start(container_name)
    report(f" Container {container_name}  Started")


async def _wait_for(
    client: EngineClient, project: Project, name: str, condition: str, report: Report
) -> None:
    if condition == "service_started":
        return
    container = L.container_name(project.name, name, 1)
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


async def _remove(
    client: EngineClient,
    container: dict[str, Any],
    timeout: int | None,
    report: Report,
    quiet: bool = False,
) -> None:
    name = _name(container)
    if container.get("State") in ("running", "restarting", "paused"):
        await client.containers.stop(container["Id"], timeout=timeout)
        if not quiet:
            report(f" Container {name}  Stopped")
    await client.containers.remove(container["Id"], force=True, volumes=True)
    if not quiet:
        report(f" Container {name}  Removed")


async def down(
    client: EngineClient,
    project_name: str,
    project: Project | None,
    report: Report,
    volumes: bool = False,
    remove_orphans: bool = False,
    timeout: int | None = None,
) -> None:
    """Remove the project's containers, its networks and (``volumes``) its named volumes. Without
    a model, everything carrying the project's label goes."""
    known = set(project.services) | set(project.disabled) if project else None
    for container in reversed(await project_containers(client, project_name)):
        service = container["Labels"].get(L.SERVICE)
        if known is None or service in known or remove_orphans:
            await _remove(client, container, timeout, report)
    for network in await client.networks.list(filters=L.project_filter(project_name)):
        key = (network.get("Labels") or {}).get(L.NETWORK)
        if project is None or key in project.networks:
            await client.networks.remove(network["Name"])
            report(f" Network {network['Name']}  Removed")
    if volumes:
        for volume in await client.volumes.list():
            if (volume.get("Labels") or {}).get(L.PROJECT) == project_name:
                await client.volumes.remove(volume["Name"])
                report(f" Volume {volume['Name']}  Removed")


async def stop(
    client: EngineClient, project_name: str, services: list[str], report: Report,
    timeout: int | None = None,
) -> None:  # fmt: skip
    for container in reversed(await project_containers(client, project_name, all=False)):
        if not services or container["Labels"].get(L.SERVICE) in services:
            await client.containers.stop(container["Id"], timeout=timeout)
            report(f" Container {_name(container)}  Stopped")


async def start(
    client: EngineClient, project_name: str, services: list[str], report: Report
) -> None:
    for container in await project_containers(client, project_name):
        if container.get("State") != "running" and (
            not services or container["Labels"].get(L.SERVICE) in services
        ):
            await client.containers.start(container["Id"])
            report(f" Container {_name(container)}  Started")


async def remove_stopped(
    client: EngineClient, project_name: str, services: list[str], report: Report
) -> None:
    for container in await project_containers(client, project_name):
        if container.get("State") != "running" and (
            not services or container["Labels"].get(L.SERVICE) in services
        ):
            await client.containers.remove(container["Id"], force=True)
            report(f" Container {_name(container)}  Removed")


async def list_projects(client: EngineClient) -> list[dict[str, str]]:
    """``compose ls``: one row per project with running containers (or any, with all)."""
    rows = await client.containers.list(all=True, filters={"label": [L.PROJECT]})
    projects: dict[str, dict[str, Any]] = {}
    for row in rows:
        labels = row.get("Labels") or {}
        entry = projects.setdefault(labels[L.PROJECT], {"states": {}, "files": set()})
        state = row.get("State", "")
        entry["states"][state] = entry["states"].get(state, 0) + 1
        entry["files"].add(labels.get(L.CONFIG_FILES, ""))
    return [
        {"Name": name,
         "Status": ", ".join(f"{s}({n})" for s, n in sorted(entry["states"].items())),
         "ConfigFiles": ",".join(sorted(f for f in entry["files"] if f))}
        for name, entry in sorted(projects.items())
    ]  # fmt: skip
