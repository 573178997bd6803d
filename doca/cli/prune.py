"""Pruning as the docker CLI does it: the confirmation prompt, and each kind's report
(``Deleted Images:`` …) with the space it reclaimed, for `image prune` and `system prune`."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import click

from doca.cli import formatting
from doca.client import EngineClient

Filters = dict[str, list[str]]
Pruner = Callable[[EngineClient, bool, Filters], Awaitable[tuple[int, str]]]


def confirm(message: str) -> bool:
    """prompt.Confirm: the question and `` [y/N] `` on stdout; only ``y`` or ``Y`` go on."""
    click.echo(f"{message} [y/N] ", nl=False)
    return sys.stdin.readline().strip().lower() == "y"


def _listing(title: str, entries: list[str]) -> str:
    return f"{title}:\n" + "".join(f"{entry}\n" for entry in entries) if entries else ""


async def prune_containers(client: EngineClient, all: bool, filters: Filters) -> tuple[int, str]:
    report = await client.containers.prune(filters or None)
    deleted = list(report.get("ContainersDeleted") or [])
    return int(report.get("SpaceReclaimed") or 0) if deleted else 0, _listing(
        "Deleted Containers", deleted
    )


async def prune_networks(client: EngineClient, all: bool, filters: Filters) -> tuple[int, str]:
    return 0, _listing("Deleted Networks", await client.networks.prune(filters or None))


async def prune_volumes(client: EngineClient, all: bool, filters: Filters) -> tuple[int, str]:
    report = await client.volumes.prune(all=all, filters=filters or None)
    deleted = list(report.get("VolumesDeleted") or [])
    return int(report.get("SpaceReclaimed") or 0) if deleted else 0, _listing(
        "Deleted Volumes", deleted
    )


async def prune_images(client: EngineClient, all: bool, filters: Filters) -> tuple[int, str]:
    report = await client.images.prune(dangling_only=not all, filters=filters or None)
    entries = [
        f"untagged: {entry['Untagged']}" if entry.get("Untagged") else
        f"deleted: {entry.get('Deleted', '')}"
        for entry in report.get("ImagesDeleted") or []
    ]  # fmt: skip
    return int(report.get("SpaceReclaimed") or 0) if entries else 0, _listing(
        "Deleted Images", entries
    )


async def prune_build_cache(client: EngineClient, all: bool, filters: Filters) -> tuple[int, str]:
    report = await client.images.prune_builds(all=all)
    deleted = list(report.get("CachesDeleted") or [])
    return int(report.get("SpaceReclaimed") or 0), _listing("Deleted build cache objects", deleted)


async def prune_anonymous_volumes(
    client: EngineClient, all: bool, filters: Filters
) -> tuple[int, str]:
    """`system prune --volumes` removes anonymous volumes only, even with --all."""
    return await prune_volumes(client, False, filters)


def total_line(space: int) -> str:
    return f"Total reclaimed space: {formatting.human_size(space, 4)}"
