"""A service's ``extends``: it starts from another service, of its own file or of another
one, as compose-go's loader/extends.go resolves it. The base is shaped with the relative paths
of its own file's directory (build context, bind sources, env files), interpolated with the
project's variables; the extending service is then merged over it by the ``-f`` merge rules,
``depends_on`` included. Chains are followed; a cycle is an error naming every link."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doca.compose import merge
from doca.compose.errors import ComposeError
from doca.compose.service import shape_service
from doca.compose.source_interpolation import Warn, interpolate_source
from doca.compose.yamlsource import KeyPath, Source, read_source

# (file, service) links as Compose's cycle tracker records them.
_Chain = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _File:
    source: Source
    # Relative paths in the file are relative to this: the project directory for the files
    # of the project itself, the file's own directory for a file only extended from.
    directory: Path

    def services(self) -> dict[str, Any]:
        services = self.source.data.get("services")
        return services if isinstance(services, dict) else {}


def shape_services(
    source: Source, working_dir: Path, env: Mapping[str, str], warn: Warn | None
) -> dict[str, dict[str, Any]]:
    """Every service of ``source`` (already interpolated) in canonical shapes, its ``extends``
    resolved; relative paths in ``source`` are relative to ``working_dir``."""
    resolver = _Resolver(source, env, warn)
    file = _File(source, working_dir)
    return {name: resolver.service(file, name, ()) for name in file.services()}


def _shape(source: Source, name: str, raw: Any, directory: Path) -> dict[str, Any]:
    """``services.<name>`` as written (without ``extends``), shaped against ``directory``;
    its env files are made absolute there, for they are read once the project is merged."""
    service = shape_service(source, name, raw, directory)
    if "env_file" in service:
        service["env_file"] = [
            os.path.normpath(directory / os.path.expanduser(entry)) for entry in service["env_file"]
        ]
    return service


class _Resolver:
    """Resolves the services of one file of the project (``main``); the messages name it as
    Compose's do, whichever file the failing link is in."""

    def __init__(self, main: Source, env: Mapping[str, str], warn: Warn | None) -> None:
        self.main = main
        self.env = env
        self.warn = warn
        self.files: dict[Path, Source] = {}
        self.done: dict[tuple[Path, Path, str], dict[str, Any]] = {}

    def service(self, file: _File, name: str, chain: _Chain) -> dict[str, Any]:
        known = self.done.get((file.source.path, file.directory, name))
        if known is not None:
            return copy.deepcopy(known)
        raw = file.services()[name]
        if not isinstance(raw, dict) or "extends" not in raw:
            shaped = _shape(file.source, name, raw, file.directory)
        else:
            own = {key: value for key, value in raw.items() if key != "extends"}
            base = self._base(file, name, raw["extends"], chain)
            shaped = merge.merge_services(base, _shape(file.source, name, own, file.directory))
        self.done[(file.source.path, file.directory, name)] = shaped
        return copy.deepcopy(shaped)

    def _base(self, file: _File, name: str, extends: Any, chain: _Chain) -> dict[str, Any]:
        where: KeyPath = ("services", name, "extends")
        reference, other = _reference(file.source, name, extends)
        if other is None:
            base_file = file
            if reference not in file.services():
                raise file.source.error(where, f"cannot extend service {_quoted(name)} in "
                                        f"{self.main.path}: service {_quoted(reference)} "
                                        "not found")  # fmt: skip
            link = (str(self.main.path), name)
        else:
            base_file = self._load(file, name, other)
            if reference not in base_file.services():
                raise file.source.error(where, f"cannot extend service {_quoted(name)} in "
                                        f"{self.main.path}: service {_quoted(reference)} "
                                        f"not found in {other}")  # fmt: skip
            link = (other, name)
        if link in chain:
            raise file.source.error(where, _circular((*chain, link)))
        return self.service(base_file, reference, (*chain, link))

    def _load(self, file: _File, name: str, other: str) -> _File:
        """The file ``extends.file`` names, read and interpolated once."""
        path = Path(os.path.normpath(file.directory / os.path.expanduser(other)))
        if path not in self.files:
            if not path.is_file():
                raise file.source.error(("services", name, "extends", "file"),
                                        f"open {path}: no such file or directory")  # fmt: skip
            source = read_source(path)
            interpolate_source(source, self.env, self.warn)
            services = source.data.get("services")
            if services is None:
                raise ComposeError(f"cannot extend service {_quoted(name)} in {path}: "
                                   "no services section", str(path))  # fmt: skip
            if not isinstance(services, dict):
                raise source.error(("services",), f"cannot extend service {_quoted(name)} in "
                                   f"{path}: services must be a mapping")  # fmt: skip
            self.files[path] = source
        return _File(self.files[path], path.parent)


def _reference(source: Source, name: str, extends: Any) -> tuple[str, str | None]:
    """(service, file or None) of an ``extends`` value: a service name, or a mapping of
    ``service`` and an optional ``file``."""
    if isinstance(extends, str):
        return extends, None
    if not isinstance(extends, dict):
        return "", None  # compose-go reads no name from it, and reports "" as not found
    reference = extends.get("service")
    if not isinstance(reference, str):
        raise source.error(("services", name, "extends"), f"extends.{name}.service is required")
    other = extends.get("file")
    if other is not None and not isinstance(other, str):
        raise source.error(("services", name, "extends", "file"), "must be a string")
    return reference, other


def _circular(chain: _Chain) -> str:
    (first_file, first), *rest = chain
    lines = ["Circular reference:", f"  {first} in {first_file}"]
    lines += [f"  extends {service} in {file}" for file, service in rest]
    return "\n".join(lines)


def _quoted(text: str) -> str:
    """A string as Go's %q writes it, for the plain names services have."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
