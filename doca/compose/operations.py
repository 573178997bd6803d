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
from doca.compose.convergence import (
    converge,
    name_of,
    number_of,
    remove_container,
    wait_for_dependency,
)
from doca.compose.errors import ComposeError
from doca.compose.images import Output, ensure_images
from doca.compose.project import Project
from doca.compose.translate import network_config, volume_labels

Report = Callable[[str], None]


async def project_containers(
    client: EngineClient, project: str, all: bool = True, one_off: bool = False
) -> list[dict[str, Any]]:
    """The project's containers by service and number; ``run``'s one-offs only with
    ``one_off``, as Compose leaves them out of most commands."""
    rows = await client.containers.list(all=all, filters=L.project_filter(project))
    if not one_off:
        rows = [r for r in rows if (r.get("Labels") or {}).get(L.ONEOFF, "False") == "False"]
    return sorted(rows, key=lambda r: (r["Labels"].get(L.SERVICE, ""), number_of(r)))


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
    scales: dict[str, int] | None = None,
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
            await remove_container(client, container, timeout, report)
    elif orphans:
        report(f" Found orphan containers ({', '.join(name_of(c) for c in orphans)}) for this "
               "project. If you removed or renamed this service in your compose file, you can "
               "run this command with the --remove-orphans flag to clean it up.")  # fmt: skip
    await ensure_networks(client, project, report)
    await ensure_volumes(client, project, report)
    for name in order:
        for dependency, condition in project.dependencies(name).items():
            if dependency in project.services:
                await wait_for_dependency(client, project, dependency, condition["condition"],
                                          report)  # fmt: skip
        await converge(client, project, name, images.get(name, ""), existing, force_recreate,
                       timeout, report, (scales or {}).get(name))  # fmt: skip


async def down(
    client: EngineClient,
    project_name: str,
    project: Project | None,
    report: Report,
    volumes: bool = False,
    remove_orphans: bool = False,
    timeout: int | None = None,
    rmi: str | None = None,
) -> None:
    """Remove the project's containers, its networks, (``volumes``) its named volumes and
    (``rmi``: ``local`` for images Compose named, ``all``) its services' images. Without a
    model, everything carrying the project's label goes."""
    known = set(project.services) | set(project.disabled) if project else None
    rows = await project_containers(client, project_name, one_off=remove_orphans)
    for container in reversed(rows):
        service = container["Labels"].get(L.SERVICE)
        if known is None or service in known or remove_orphans:
            await remove_container(client, container, timeout, report)
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
    if rmi and project is not None:
        await _remove_images(client, project, rmi, report)


async def _remove_images(client: EngineClient, project: Project, rmi: str, report: Report) -> None:
    images = {project.image_name(name) for name, service in project.services.items()
              if rmi == "all" or not service.get("image")}  # fmt: skip
    for image in sorted(images):
        try:
            await client.images.remove(image)
        except NotFound:
            continue
        report(f" Image {image}  Removed")


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


async def wait_running(
    client: EngineClient, project: Project, services: list[str], report: Report,
    timeout: int | None = None,
) -> None:  # fmt: skip
    """``up --wait``: until every container of ``services`` runs (and is healthy where it has
    a healthcheck); a container that exits or turns unhealthy fails the wait, as with
    Compose."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = [c for c in await project_containers(client, project.name)
               if not services or c["Labels"].get(L.SERVICE) in services]  # fmt: skip
    while pending:
        still = []
        for container in pending:
            state = (await client.containers.inspect(container["Id"])).get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            name = name_of(container)
            if not state.get("Running") or health == "unhealthy":
                raise ComposeError(f"container {name} exited ({state.get('ExitCode', 0)})"
                                   if not state.get("Running") else
                                   f"container {name} is unhealthy")  # fmt: skip
            if health in (None, "healthy"):
                report(f" Container {name}  {'Healthy' if health else 'Running'}")
            else:
                still.append(container)
        pending = still
        if pending and deadline is not None and time.monotonic() > deadline:
            raise ComposeError("timeout waiting for the services to be running|healthy")
        if pending:
            await asyncio.sleep(0.2)
