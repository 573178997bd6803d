"""Top-level ``include``: other compose projects, each loaded on its own (its directory, its
``.env`` or ``env_file``, its own relative paths), whose services, networks, volumes, secrets
and configs join those of the including file, as compose-go's loader/include.go does. A
resource both define, unless identically, is an error."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from doca.compose import shapes
from doca.compose.envfile import read_env_file
from doca.compose.yamlsource import KeyPath, Source

_KINDS = ("services", "volumes", "networks", "secrets", "configs")


@dataclass
class Resources:
    """What compose files define once merged, in canonical shapes, before the project-wide
    defaults and checks."""

    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Every file read, included ones too, so that later errors can name a line.
    sources: list[Source] = field(default_factory=list)
    name: str | None = None  # the last ``name:`` the files declare

    def section(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"services": self.services, "networks": self.networks, "volumes": self.volumes,
                "secrets": self.secrets, "configs": self.configs}[kind]  # fmt: skip


# Loads ``files`` as one project: (files, working directory, environment, the files that
# include them, outermost first).
LoadFiles = Callable[[list[Path], Path, Mapping[str, str], list[Path]], Resources]


@dataclass(frozen=True)
class _Entry:
    paths: list[Path]
    project_directory: Path
    env_files: list[Path]


def apply_include(
    source: Source,
    resources: Resources,
    working_dir: Path,
    env: Mapping[str, str],
    chain: list[Path],
    load: LoadFiles,
) -> None:
    """Load every project ``source`` includes and add its resources to ``resources`` (the
    file's own). ``chain`` is ``source``'s path after the files that include it."""
    value = source.data.get("include")
    if value is None:
        return
    if not isinstance(value, list):
        raise source.error(("include",), f"`include` must be a list, got {_go_text(value)}")
    for index, item in enumerate(value):
        key: KeyPath = ("include", index)
        entry = _entry(source, key, item, working_dir)
        if not entry.paths:
            continue
        if entry.paths[0] in chain:
            links = [*chain[1:], entry.paths[0]]
            raise source.error(key, f"include cycle detected:\n{chain[0]}\n include "
                               + "\n include ".join(str(link) for link in links))  # fmt: skip
        for path in entry.paths:
            if not path.is_file():
                raise source.error(key, f"open {path}: no such file or directory")
        included_env = _environment(entry, env)
        imported = load(entry.paths, entry.project_directory, included_env, chain)
        _with_defaults(imported, entry.project_directory, included_env)
        _import(source, key, imported, resources)


def _entry(source: Source, key: KeyPath, item: Any, working_dir: Path) -> _Entry:
    """One ``include`` item, short (a path) or long, its paths made absolute as Compose makes
    them: against the including project's directory."""

    def fail(message: str) -> NoReturn:
        raise source.error(key, message)

    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict):
        fail("must be a string or a mapping")
    paths = [_absolute(working_dir, p) for p in shapes.string_list(item.get("path") or [], fail)]
    directory = item.get("project_directory")
    if directory is not None:
        project_directory = _absolute(working_dir, shapes.string(directory, fail))
    elif paths:
        project_directory = paths[0].parent
    else:
        project_directory = working_dir
    env_files = [_absolute(working_dir, f) for f in
                 shapes.string_list(item.get("env_file") or [], fail)]  # fmt: skip
    for path in env_files:
        if not path.exists():
            fail(f"stat {path}: no such file or directory")
        if path.is_dir():
            fail(f"{path} is not a file")
    if not env_files and (project_directory / ".env").is_file():
        env_files = [project_directory / ".env"]
    return _Entry(paths, project_directory, env_files)


def _absolute(directory: Path, path: str) -> Path:
    return Path(os.path.normpath(directory / os.path.expanduser(path)))


def _environment(entry: _Entry, env: Mapping[str, str]) -> dict[str, str]:
    """The including project's variables, plus those of the included one's env files that it
    does not set: the includer's win."""
    from_files: dict[str, str] = {}
    for path in entry.env_files:
        for name, value in read_env_file(path, {**from_files, **env}).items():
            if value is not None:
                from_files[name] = value
    return {**from_files, **env}


def _with_defaults(imported: Resources, directory: Path, env: Mapping[str, str]) -> None:
    """What Compose settles while loading the included project on its own: a build context
    defaults to its directory and a bare ``environment`` name takes its variables' value."""
    for service in imported.services.values():
        if "build" in service:
            service["build"].setdefault("context", str(directory))
        if "environment" in service:
            service["environment"] = {
                name: env.get(name) if value is None else value
                for name, value in service["environment"].items()
            }


def _import(source: Source, key: KeyPath, imported: Resources, resources: Resources) -> None:
    for kind in _KINDS:
        target = resources.section(kind)
        for name, value in imported.section(kind).items():
            if name in target:
                if target[name] == value:
                    continue
                raise source.error(key, f"{kind}.{name} conflicts with imported resource")
            target[name] = value
    resources.sources.extend(imported.sources)


def _go_text(value: Any) -> str:
    """A YAML value as Go's ``%s`` prints it, for the scalars one can write by mistake."""
    if isinstance(value, bool):
        return "%!s(bool=" + ("true" if value else "false") + ")"
    if isinstance(value, int):
        return f"%!s(int={value})"
    return str(value)
