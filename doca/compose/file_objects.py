"""Top-level ``secrets`` and ``configs`` and how a service gets them, as Compose v2 does without
a swarm: a ``file`` is bind-mounted read-only; ``content`` and ``environment`` are written into
the container (a tar through the archive API) before it starts. Pure."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from doca.compose.errors import ComposeError
from doca.compose.shapes import boolean, labels, string
from doca.compose.yamlsource import KeyPath, Source

FILE_OBJECT_KEYS = ("name", "file", "environment", "content", "external", "labels")
_BASE = {"secrets": "/run/secrets/", "configs": "/"}
_KIND = {"secrets": "secret", "configs": "config"}


def shape_file_object(
    source: Source, kind: str, name: str, raw: Any, project_dir: Path
) -> dict[str, Any]:
    """``secrets.<name>`` / ``configs.<name>`` with ``file`` made absolute."""
    key: KeyPath = (kind, name)
    if not isinstance(raw, dict):
        raise source.error(key, "must be a mapping")
    out: dict[str, Any] = {}
    for field, value in raw.items():
        if field not in FILE_OBJECT_KEYS:
            raise source.error((*key, field), f"additional property {field!r} is not allowed")

        def fail(message: str, field: str = field) -> Any:
            raise source.error((*key, field), message)

        if field == "external":
            if boolean(value, fail):
                out[field] = True
        elif field == "labels":
            out[field] = labels(value, fail)
        elif field == "file":
            out[field] = str((project_dir / string(value, fail)).absolute())
        else:
            out[field] = string(value, fail)
    return {k: out[k] for k in FILE_OBJECT_KEYS if k in out}


def _target(kind: str, reference: Mapping[str, Any]) -> str:
    target = str(reference.get("target") or reference["source"])
    return target if target.startswith("/") else _BASE[kind] + target


def _definition(
    definitions: Mapping[str, dict[str, Any]], kind: str, reference: Mapping[str, Any]
) -> dict[str, Any]:
    definition = definitions.get(reference["source"])
    if definition is None:
        raise ComposeError(f"{_KIND[kind]} {reference['source']!r} is not defined")
    if definition.get("external"):
        raise ComposeError(f"unsupported external {_KIND[kind]} {definition.get('name', '')}")
    return definition


def bind_mounts(
    kind: str, references: list[Mapping[str, Any]], definitions: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The read-only bind Mounts of the file-backed ``references``."""
    mounts = {}
    for reference in references:
        definition = _definition(definitions, kind, reference)
        if definition.get("file"):
            target = _target(kind, reference)
            mounts[target] = {"Type": "bind", "Source": definition["file"], "Target": target,
                              "ReadOnly": True,
                              "BindOptions": {"CreateMountpoint": False}}  # fmt: skip
    return list(mounts.values())


def injected_tar(
    kind: str,
    service: Mapping[str, Any],
    definitions: Mapping[str, dict[str, Any]],
    environment: Mapping[str, str],
) -> bytes | None:
    """A tar (to extract at ``/``) of the service's references whose value is ``content`` or
    comes from the ``environment``; None when there are none."""
    references = service.get(kind) or []
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for reference in references:
            definition = _definition(definitions, kind, reference)
            content = definition.get("content")
            if content is None and definition.get("environment"):
                variable = definition["environment"]
                if variable not in environment:
                    name = definition.get("name", "")
                    raise ComposeError(f"environment variable {variable!r} required by "
                                       f"{_KIND[kind]} {name!r} is not set")  # fmt: skip
                content = environment[variable]
            if not content:
                continue
            if service.get("read_only"):
                what = f"{_KIND[kind]} {definition.get('name', '')!r}"
                raise ComposeError(f"cannot create {what} in read-only service: `file` is the "
                                   "sole supported option")  # fmt: skip
            data = content.encode()
            info = tarfile.TarInfo(_target(kind, reference).lstrip("/"))
            info.size = len(data)
            info.mode = int(str(reference.get("mode") or "0444"), 8)
            info.uid = int(reference.get("uid") or 0)
            info.gid = int(reference.get("gid") or 0)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
            count += 1
    return buffer.getvalue() if count else None
