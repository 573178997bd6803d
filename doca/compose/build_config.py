"""A service's ``build:`` section: Compose's short and long syntaxes brought to the shape
``docker compose config`` prints, and the classic build Compose v2 asks of the engine for it
(pkg/compose/build_classic.go). Pure."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doca.cli.units import ram_in_bytes
from doca.client.build_options import BuildOptions
from doca.compose import labels as L
from doca.compose import shapes
from doca.compose.project import Project

# The keys Doca builds with, in the order of compose-go's BuildConfig.
BUILD_KEYS = ("context", "dockerfile", "args", "labels", "cache_from", "no_cache", "pull",
              "extra_hosts", "network", "target", "shm_size", "tags")  # fmt: skip
DEFAULT_DOCKERFILE = "Dockerfile"
_REMOTE = ("http://", "https://", "git://", "git@", "github.com/")


def _is_remote(context: str) -> bool:
    return context.startswith(_REMOTE)


def _context(context: str, project_dir: Path) -> str:
    if _is_remote(context):
        return context
    return os.path.normpath(os.path.join(project_dir, os.path.expanduser(context)))


def _list(value: Any, fail: shapes.Fail) -> list[str]:
    if not isinstance(value, list):
        fail("must be a array")
    return [shapes.string(item, fail) for item in value]


def _size(value: Any, fail: shapes.Fail) -> str:
    try:
        return str(ram_in_bytes(shapes.string(value, fail)))
    except ValueError as error:
        fail(str(error))


def shape_build(value: Any, project_dir: Path, fail: shapes.Fail) -> dict[str, Any]:
    """``build``: a context path or the long syntax, the context made absolute (a remote one
    is kept as written). Defaults wait for the files to be merged (``finish_build``)."""
    if isinstance(value, str):
        value = {"context": value}
    if not isinstance(value, dict):
        fail("must be a string")
    for key in value:
        if key not in BUILD_KEYS:
            fail(f"additional properties {key!r} not allowed")
    out: dict[str, Any] = {}
    for key in BUILD_KEYS:
        if value.get(key) is None:
            continue
        raw = value[key]
        if key == "context":
            out[key] = _context(shapes.string(raw, fail), project_dir)
        elif key == "args":
            out[key] = shapes.mapping(raw, fail)
        elif key == "labels":
            out[key] = shapes.labels(raw, fail)
        elif key == "extra_hosts":
            out[key] = shapes.extra_hosts(raw, fail)
        elif key in ("cache_from", "tags"):
            out[key] = _list(raw, fail)
        elif key in ("no_cache", "pull"):
            if shapes.boolean(raw, fail):  # omitempty drops false
                out[key] = True
        elif key == "shm_size":
            out[key] = _size(raw, fail)
        else:
            out[key] = shapes.string(raw, fail)
    return out


def finish_build(
    build: dict[str, Any], project_dir: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """The merged section with Compose's defaults: the project directory as context, the
    ``Dockerfile`` in it, and ``args`` without a value taken from the environment (left out
    when it has none)."""
    done = {"context": str(project_dir), "dockerfile": DEFAULT_DOCKERFILE, **build}
    if "args" in done:
        args = {k: v if v is not None else env.get(k) for k, v in done["args"].items()}
        done["args"] = {k: v for k, v in sorted(args.items()) if v is not None}
    if "labels" in done:
        done["labels"] = dict(sorted(done["labels"].items()))
    return {key: done[key] for key in BUILD_KEYS if key in done}


@dataclass
class BuildFlags:
    """What ``compose build`` / ``compose up`` say about builds on the command line."""

    args: dict[str, str | None] = field(default_factory=dict)  # --build-arg; None: from env
    no_cache: bool = False
    pull: bool = False
    memory: int = 0


@dataclass(frozen=True)
class BuildRequest:
    context: str  # the context directory
    dockerfile: str  # the Dockerfile's path, as ``-f`` gives it; "" for the default
    options: BuildOptions


def dockerfile_path(context: str, dockerfile: str) -> str:
    """The Dockerfile as Compose hands it to the builder: joined to the context unless it is
    absolute (dockerFilePath)."""
    if not dockerfile or _is_remote(context):
        return dockerfile
    return os.path.join(context, dockerfile)


def build_request(project: Project, name: str, flags: BuildFlags) -> BuildRequest:
    """The classic build of service ``name``: tagged with its image name, labelled as built by
    the classic builder, its args overridden by ``--build-arg``."""
    build = project.services[name]["build"]
    args: dict[str, str | None] = {**(build.get("args") or {}), **flags.args}
    resolved = {k: v if v is not None else project.environment.get(k) for k, v in args.items()}
    options = BuildOptions(
        tags=[*(build.get("tags") or []), project.image_name(name)],
        build_args=resolved,
        labels={**(build.get("labels") or {}), L.IMAGE_BUILDER: "classic"},
        target=build.get("target", ""),
        no_cache=bool(build.get("no_cache")) or flags.no_cache,
        pull=bool(build.get("pull")) or flags.pull,
        network_mode=build.get("network", ""),
        extra_hosts=[host.replace("=", ":", 1) for host in build.get("extra_hosts") or []],
        memory=flags.memory,
    )
    context = build["context"]
    return BuildRequest(context, dockerfile_path(context, build.get("dockerfile", "")), options)
