"""What the tray menu lists, from the containers store's rows: one entry per running Compose
project (``com.docker.compose.project``) with its running containers, then the running
containers that belong to no project. Pure and Qt-free; the tray rebuilds its submenus only
when this value changes, so a refresh that changes nothing leaves an open menu alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.state.rows import ContainerRow, container_rows


@dataclass(frozen=True)
class TrayContainer:
    """One running container as the tray shows it."""

    id: str
    name: str
    service: str  # its Compose service, or ""
    urls: tuple[str, ...]  # http:// addresses of its published TCP ports
    # What the container verbs are given. Left out of comparisons: its status text ("Up 3
    # seconds") changes on every reload while the menu need not.
    row: ContainerRow = field(compare=False)

    @property
    def title(self) -> str:
        """The submenu's title: the container's name, as `docker ps` shows it."""
        return self.name


@dataclass(frozen=True)
class TrayProject:
    """A Compose project with at least one running container."""

    name: str
    containers: tuple[TrayContainer, ...]

    @property
    def title(self) -> str:
        count = len(self.containers)
        return f"{self.name} ({count} running)"

    @property
    def rows(self) -> tuple[ContainerRow, ...]:
        return tuple(c.row for c in self.containers)


@dataclass(frozen=True)
class TrayMenu:
    projects: tuple[TrayProject, ...] = ()
    containers: tuple[TrayContainer, ...] = ()  # running, outside any project

    @property
    def empty(self) -> bool:
        return not self.projects and not self.containers


def tray_container(row: ContainerRow) -> TrayContainer:
    return TrayContainer(id=row.id, name=row.name, service=row.service, urls=row.urls, row=row)


def tray_menu(rows: Iterable[dict[str, Any]]) -> TrayMenu:
    """The tray's entries for the running containers among ``rows`` (the engine's list rows):
    projects by name, their containers by name, then the lone containers by name."""
    running = [r for r in container_rows(rows) if r.state == "running"]
    projects: dict[str, list[TrayContainer]] = {}
    lone: list[TrayContainer] = []
    for row in running:
        entry = tray_container(row)
        if row.project:
            projects.setdefault(row.project, []).append(entry)
        else:
            lone.append(entry)
    return TrayMenu(
        projects=tuple(
            TrayProject(name, tuple(members)) for name, members in sorted(projects.items())
        ),
        containers=tuple(lone),
    )
