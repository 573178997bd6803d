"""Loading a compose project as Compose v2 does: the files (``-f``, ``COMPOSE_FILE`` or the
default names), ``.env`` / ``--env-file``, interpolation, ``extends`` and ``include``, merging,
profiles and the project name. Pure but for reading files; every problem is a ComposeError
naming file, line and key."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doca.compose import extends, include, merge
from doca.compose.build_config import finish_build
from doca.compose.envfile import read_env_file
from doca.compose.errors import ComposeError
from doca.compose.file_objects import FILE_OBJECT_KEYS, shape_file_object
from doca.compose.include import Resources
from doca.compose.project import Project, check_project_name, normalize_project_name
from doca.compose.service import SERVICE_KEYS, shape_network, shape_volume
from doca.compose.source_interpolation import interpolate_source
from doca.compose.yamlsource import KeyPath, Source, dotted, read_source

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")  # fmt: skip
_TOP_LEVEL = ("version", "name", "include", "services", "networks", "volumes", "secrets",
              "configs")  # fmt: skip


@dataclass
class LoadOptions:
    """What the command line says about the project; ``environ`` is the process environment."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Services named on the command line are enabled whatever their profiles.
    targets: list[str] = field(default_factory=list)
    warn: Callable[[str], None] | None = None


def load_project(options: LoadOptions) -> Project:
    cwd = Path.cwd()
    files = _config_files(options, cwd)
    project_dir = Path(options.project_directory or files[0].parent).absolute()
    env = _environment(options, project_dir)
    loaded = _load_files(files, project_dir, env, [], warn=options.warn)
    if not loaded.services:
        raise ComposeError("no service selected", str(files[0]))

    name = _project_name(options, env, loaded.name, project_dir)
    project = Project(name, project_dir, files, loaded.services, loaded.networks,
                      loaded.volumes, loaded.secrets, loaded.configs, environment=env)  # fmt: skip
    _apply_profiles(project, options, env)
    _finalize(project, loaded.sources, env)
    return project


def _load_files(
    files: list[Path],
    working_dir: Path,
    env: Mapping[str, str],
    chain: list[Path],
    warn: Callable[[str], None] | None = None,
) -> Resources:
    """``files`` merged in order, each interpolated, its ``extends`` resolved and its
    ``include`` imported first, as compose-go loads a file; relative paths are relative to
    ``working_dir``. ``chain`` lists the files that include these, outermost first."""
    loaded = Resources()

    def load_included(
        files: list[Path], directory: Path, env: Mapping[str, str], chain: list[Path]
    ) -> Resources:
        return _load_files(files, directory, env, chain, warn)

    for path in files:
        source = read_source(path)
        _check_top_level(source)
        interpolate_source(source, env, warn)
        loaded.sources.append(source)
        if source.data.get("name"):
            loaded.name = str(source.data["name"])
        own = Resources()
        _section(source, "services")
        own.services = extends.shape_services(source, working_dir, env, warn)
        for name, raw in _section(source, "networks").items():
            own.networks[name] = shape_network(source, name, raw)
        for name, raw in _section(source, "volumes").items():
            own.volumes[name] = shape_volume(source, name, raw)
        for kind in ("secrets", "configs"):
            for name, raw in _section(source, kind).items():
                own.section(kind)[name] = shape_file_object(source, kind, name, raw, working_dir)
        include.apply_include(source, own, working_dir, env, [*chain, path], load_included)
        loaded.sources.extend(own.sources)
        for name, service in own.services.items():
            known = loaded.services.get(name)
            loaded.services[name] = merge.merge_services(known, service) if known else service
        for name, network in own.networks.items():
            loaded.networks[name] = merge.merge_network(loaded.networks.get(name, {}), network)
        for name, volume in own.volumes.items():
            loaded.volumes[name] = merge.merge_volume(loaded.volumes.get(name, {}), volume)
        for kind in ("secrets", "configs"):
            objects = loaded.section(kind)
            for name, value in own.section(kind).items():
                objects[name] = merge.merge_resources(objects.get(name, {}), value,
                                                      FILE_OBJECT_KEYS)  # fmt: skip
    return loaded


def _config_files(options: LoadOptions, cwd: Path) -> list[Path]:
    names = list(options.files)
    if not names and options.environ.get("COMPOSE_FILE"):
        separator = options.environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        names = options.environ["COMPOSE_FILE"].split(separator)
    if names:
        paths = [(cwd / name).absolute() for name in names]
        for path in paths:
            if not path.exists():
                raise ComposeError("no such file or directory", str(path))
        return paths
    directory = Path(options.project_directory or cwd).absolute()
    while True:
        found = [directory / n for n in DEFAULT_FILES if (directory / n).exists()]
        if found:
            overrides = [directory / n for n in OVERRIDE_FILES if (directory / n).exists()]
            return found[:1] + overrides[:1]
        if directory.parent == directory or options.project_directory:
            break
        directory = directory.parent
    raise ComposeError("no configuration file provided: not found")


def _environment(options: LoadOptions, project_dir: Path) -> dict[str, str]:
    """Variables for interpolation: the env files' (``--env-file`` or ``.env``), overridden by
    the process environment."""
    env_files = [Path(f).absolute() for f in options.env_files]
    if not env_files and (project_dir / ".env").is_file():
        env_files = [project_dir / ".env"]
    env: dict[str, str] = {}
    for path in env_files:
        if not path.is_file():
            raise ComposeError("couldn't find env file", str(path))
        for key, value in read_env_file(path, {**env, **options.environ}).items():
            if value is not None:
                env[key] = value
    env.update(options.environ)
    return env


def _check_top_level(source: Source) -> None:
    for key in source.data:
        if key not in _TOP_LEVEL:
            raise source.error((key,), f"additional property {key!r} is not allowed")


def _section(source: Source, key: str) -> dict[str, Any]:
    value = source.data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.error((key,), "must be a mapping")
    return value


def _project_name(
    options: LoadOptions, env: Mapping[str, str], declared: str | None, project_dir: Path
) -> str:
    if options.project_name:
        return check_project_name(options.project_name)
    if env.get("COMPOSE_PROJECT_NAME"):
        return check_project_name(env["COMPOSE_PROJECT_NAME"])
    if declared:
        return check_project_name(declared)
    name = normalize_project_name(project_dir.name)
    if not name:
        raise ComposeError(f"project name {project_dir.name!r} is empty once normalised")
    return name


def _apply_profiles(project: Project, options: LoadOptions, env: Mapping[str, str]) -> None:
    active = set(options.profiles)
    if not active and env.get("COMPOSE_PROFILES"):
        active = {p.strip() for p in env["COMPOSE_PROFILES"].split(",") if p.strip()}
    for name in options.targets:
        if name not in project.services:
            raise ComposeError(f"no such service: {name}")
    for name, service in list(project.services.items()):
        profiles = set(service.get("profiles") or [])
        if profiles and not (profiles & active or "*" in active or name in options.targets):
            project.disabled[name] = project.services.pop(name)


def _finalize(project: Project, sources: list[Source], env: Mapping[str, str]) -> None:
    """Defaults that only apply once the files are merged: env_file read into environment,
    the default network, dependencies checked, unused networks and volumes dropped."""
    used_networks: set[str] = set()
    used_volumes: set[str] = set()
    used_objects: dict[str, set[str]] = {"secrets": set(), "configs": set()}
    for name, service in project.services.items():
        if "environment" in service:  # a bare name takes the project's value, if it has one
            service["environment"] = {
                key: env.get(key) if value is None else value
                for key, value in service["environment"].items()
            }
        if "env_file" in service:
            service["environment"] = _with_env_files(project, service, env)
        _network_mode_dependency(service)
        if not service.get("network_mode"):
            service.setdefault("networks", {"default": None})
        service["networks"] = dict(sorted((service.get("networks") or {}).items()))
        for network in service["networks"]:
            if network != "default" and network not in project.networks:
                raise _where(sources, ("services", name, "networks"),
                             f"service {name!r} refers to undefined network {network}")  # fmt: skip
            used_networks.add(network)
        for volume in service.get("volumes") or []:
            if volume["type"] == "volume" and volume.get("source"):
                if volume["source"] not in project.volumes:
                    raise _where(sources, ("services", name, "volumes"),
                                 f"service {name!r} refers to undefined volume "
                                 f"{volume['source']}: invalid compose project")  # fmt: skip
                used_volumes.add(volume["source"])
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in project.services and condition.get("required", True):
                raise _where(sources, ("services", name, "depends_on"),
                             f'service "{name}" depends on undefined service "{dependency}": '
                             "invalid compose project")  # fmt: skip
        if "environment" in service:
            service["environment"] = dict(sorted(service["environment"].items()))
        if "labels" in service:
            service["labels"] = dict(sorted(service["labels"].items()))
        if "build" in service:
            service["build"] = finish_build(service["build"], project.working_dir, env)
        for kind in ("secrets", "configs"):
            for reference in service.get(kind) or []:
                if reference["source"] not in getattr(project, kind):
                    raise _where(sources, ("services", name, kind),
                                 f"service {name!r} refers to undefined {kind[:-1]} "
                                 f"{reference['source']}: invalid compose project")  # fmt: skip
                used_objects[kind].add(reference["source"])
        project.services[name] = {k: service[k] for k in SERVICE_KEYS if k in service and
                                  (k != "networks" or service[k])}  # fmt: skip
    if "default" in used_networks:
        project.networks.setdefault("default", {})
    project.networks = {
        key: _named(project.name, key, value)
        for key, value in sorted(project.networks.items()) if key in used_networks
    }  # fmt: skip
    project.volumes = {
        key: _named(project.name, key, value)
        for key, value in sorted(project.volumes.items()) if key in used_volumes
    }  # fmt: skip
    project.secrets, project.configs = (
        {key: _named(project.name, key, value)
         for key, value in sorted(objects.items()) if key in used_objects[kind]}
        for kind, objects in (("secrets", project.secrets), ("configs", project.configs))
    )  # fmt: skip


def _network_mode_dependency(service: dict[str, Any]) -> None:
    """``network_mode: service:<name>`` makes the service depend on that one, as Compose
    records it."""
    kind, _, target = str(service.get("network_mode") or "").partition(":")
    if kind == "service" and target not in (service.get("depends_on") or {}):
        service["depends_on"] = {
            **(service.get("depends_on") or {}),
            target: {"condition": "service_started", "restart": True, "required": True},
        }


def _named(project: str, key: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The engine name: ``name:`` as written, the key itself for an external resource, else
    ``<project>_<key>``."""
    name = resource.get("name") or (key if resource.get("external") else f"{project}_{key}")
    return {"name": name, **{k: v for k, v in resource.items() if k != "name"}}


def _with_env_files(
    project: Project, service: dict[str, Any], env: Mapping[str, str]
) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for entry in service.pop("env_file"):
        path = (project.working_dir / entry).absolute()
        for key, value in read_env_file(path, env).items():
            merged[key] = value if value is not None else env.get(key)
    merged.update(service.get("environment") or {})
    return merged


def _where(sources: list[Source], key: KeyPath, message: str) -> ComposeError:
    """The error at the last file that sets ``key``."""
    for source in reversed(sources):
        if source.line_of(key) is not None and source.line_of(key[:2]) is not None:
            return source.error(key, message)
    return ComposeError(message, key=dotted(key))
