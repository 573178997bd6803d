"""The loaded compose project: its name, where it lives, and its services, networks and volumes
in the canonical shapes ``docker compose config`` prints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doca.compose.errors import ComposeError
from doca.compose.labels import container_name

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(name: str) -> str:
    """A directory name made a project name as Compose does: lowercase, only [a-z0-9_-], and
    starting with a letter or digit."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(name: str) -> str:
    if not _VALID_NAME.match(name):
        raise ComposeError(
            f'invalid project name "{name}": must consist only of lowercase alphanumeric '
            "characters, hyphens, and underscores as well as start with a letter or number"
        )
    return name


@dataclass
class Project:
    name: str
    working_dir: Path
    config_files: list[Path]
    services: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Services left out by their profiles: `down` still removes their containers.
    disabled: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def service(self, name: str) -> dict[str, Any]:
        try:
            return self.services[name]
        except KeyError:
            raise ComposeError(f"no such service: {name}") from None

    def image_name(self, name: str) -> str:
        """The image service ``name`` runs: its ``image``, else ``<project>-<service>``, the
        name Compose v2 tags a built image with (GetImageNameOrDefault)."""
        return str(self.services[name].get("image") or f"{self.name}-{name}")

    def container_name(self, name: str, number: int) -> str:
        """Replica ``number`` of service ``name``: its ``container_name``, else
        ``<project>-<service>-<n>``."""
        fixed = self.services[name].get("container_name")
        return str(fixed) if fixed else container_name(self.name, name, number)

    def dependencies(self, name: str) -> dict[str, dict[str, Any]]:
        return dict(self.services[name].get("depends_on") or {})

    def start_order(self, names: list[str] | None = None, with_deps: bool = True) -> list[str]:
        """``names`` (all services without it), with their dependencies when ``with_deps``,
        dependencies first."""
        wanted = list(names or self.services)
        for name in wanted:
            self.service(name)
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise ComposeError(f"dependency cycle detected involving service {name}")
            visiting.add(name)
            if with_deps:
                for dependency in self.dependencies(name):
                    if dependency in self.services:
                        visit(dependency)
            visiting.discard(name)
            order.append(name)

        for name in sorted(wanted):
            visit(name)
        return order
