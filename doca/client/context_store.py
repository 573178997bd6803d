"""The docker CLI's context store, read and written where `docker context` keeps it, so that a
context made by either CLI is used by both.

- contexts live in ``$DOCKER_CONFIG`` (else ``~/.docker``) under
  ``contexts/meta/<sha256 of the name>/meta.json``:
  ``{"Name":…,"Metadata":{"Description":…},"Endpoints":{"docker":{"Host":…,"SkipTLSVerify":…}}}``;
- TLS material sits under ``contexts/tls/<sha256>/docker/`` (listed, not used: doca speaks to
  engines over unix sockets or plain TCP);
- the context in use is ``currentContext`` in ``config.json``; ``default`` is not stored: it is
  ``-H``, ``$DOCKER_HOST`` or the default socket.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doca.credhelper import dockerconfig as dc

DEFAULT_CONTEXT = "default"
DOCKER_ENDPOINT = "docker"
DEFAULT_DESCRIPTION = "Current DOCKER_HOST based configuration"
NAME_PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"
IN_MEMORY = "<IN MEMORY>"
_NAME = re.compile(NAME_PATTERN)


class ContextError(ValueError):
    """A context that cannot be made or used; ``str()`` is the docker CLI's message."""


class ContextNotFound(ContextError):
    pass


def natural_key(name: str) -> list[Any]:
    """sortorder.NaturalLess: runs of digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name) if part]  # fmt: skip


def validate_name(name: str) -> None:
    if not name:
        raise ContextError("context name cannot be empty")
    if name == DEFAULT_CONTEXT:
        raise ContextError('"default" is a reserved context name')
    if not _NAME.match(name):
        raise ContextError(
            f'context name "{name}" is invalid, names are validated against regexp "{NAME_PATTERN}"'
        )


@dataclass
class Context:
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> dict[str, Any]:
        found = self.endpoints.get(DOCKER_ENDPOINT)
        if not isinstance(found, dict):
            raise ContextError("cannot find docker endpoint in context")
        return found

    @property
    def host(self) -> str:
        return str(self.endpoint.get("Host") or "")

    @property
    def description(self) -> str:
        if self.name == DEFAULT_CONTEXT:
            return DEFAULT_DESCRIPTION
        return str(self.metadata.get("Description") or "")

    def to_json(self) -> dict[str, Any]:
        """meta.json's content, keys in the order the docker CLI writes them."""
        meta: dict[str, Any] = {"Name": self.name}
        if self.metadata is not None:
            meta["Metadata"] = dict(sorted(self.metadata.items()))
        if self.endpoints:
            meta["Endpoints"] = self.endpoints
        return meta


def endpoint_meta(host: str, skip_tls_verify: bool = False) -> dict[str, Any]:
    return {**({"Host": host} if host else {}), "SkipTLSVerify": skip_tls_verify}


class ContextStore:
    def __init__(self, config_dir: Path | None = None) -> None:
        self.config_dir = dc.config_dir(config_dir)
        self.meta_root = self.config_dir / "contexts" / "meta"
        self.tls_root = self.config_dir / "contexts" / "tls"

    @staticmethod
    def directory_name(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()

    def meta_path(self, name: str) -> Path:
        return self.meta_root / self.directory_name(name)

    def tls_path(self, name: str) -> Path:
        return self.tls_root / self.directory_name(name)

    def get(self, name: str) -> Context:
        path = self.meta_path(name) / "meta.json"
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise ContextNotFound(
                f'context "{name}": context not found: open {path}: no such file or directory'
            ) from None
        except (OSError, ValueError) as error:
            raise ContextError(f'context "{name}": parsing {path}: {error}') from None
        if not isinstance(raw, dict):
            raise ContextError(f'context "{name}": parsing {path}: not a JSON object')
        return Context(
            str(raw.get("Name") or ""),
            dict(raw.get("Metadata") or {}),
            dict(raw.get("Endpoints") or {}),
        )

    def list_contexts(self) -> list[Context]:
        found = []
        if self.meta_root.is_dir():
            for meta in self.meta_root.rglob("meta.json"):
                with contextlib.suppress(FileNotFoundError):
                    raw = json.loads(meta.read_bytes())
                    found.append(
                        Context(str(raw.get("Name") or ""), dict(raw.get("Metadata") or {}),
                                dict(raw.get("Endpoints") or {}))
                    )  # fmt: skip
        return sorted(found, key=lambda context: natural_key(context.name))

    def exists(self, name: str) -> bool:
        return self.meta_path(name).exists()

    def save(self, context: Context) -> None:
        """Write meta.json whole (a temporary file renamed into place), mode 0644."""
        directory = self.meta_path(context.name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        payload = json.dumps(context.to_json(), separators=(",", ":"), ensure_ascii=False)
        fd, scratch = tempfile.mkstemp(prefix=".meta.json.", dir=directory)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(payload)
            os.chmod(scratch, 0o644)
            os.replace(scratch, directory / "meta.json")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.meta_path(name), ignore_errors=True)
        shutil.rmtree(self.tls_path(name), ignore_errors=True)

    def tls_files(self, name: str) -> dict[str, list[str]]:
        """The TLS files of each endpoint, as `docker context inspect` lists them."""
        root = self.tls_path(name)
        if not root.is_dir():
            return {}
        return {
            endpoint.name: sorted(f.name for f in endpoint.iterdir() if f.is_file())
            for endpoint in sorted(root.iterdir())
            if endpoint.is_dir()
        }

    # -- the context in use -----------------------------------------------------------------
    def current_context(self) -> str:
        """``currentContext`` of config.json ("" when none is set or the file is unusable)."""
        try:
            return str(dc.load_config(self.config_dir).data.get("currentContext") or "")
        except dc.ConfigError:
            return ""

    def set_current_context(self, name: str) -> None:
        """Record ``name`` as config.json's ``currentContext``; ``default`` removes the key,
        as the docker CLI leaves it out when empty."""
        config = dc.load_config(self.config_dir)
        value = "" if name == DEFAULT_CONTEXT else name
        if str(config.data.get("currentContext") or "") == value:
            return
        data = dict(config.data)
        if value:
            data["currentContext"] = value
        else:
            data.pop("currentContext", None)
        dc.save_config(config, data)


def context_name(
    host: str | None = None, context: str | None = None, store: ContextStore | None = None
) -> str:
    """The context docker's CLI would use (resolveContextName): ``--context``, then
    ``default`` for ``-H`` or ``$DOCKER_HOST``, then ``$DOCKER_CONTEXT``, then the config's
    ``currentContext``, then ``default``."""
    if context:
        return context
    if host or os.environ.get("DOCKER_HOST"):
        return DEFAULT_CONTEXT
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    return (store or ContextStore()).current_context() or DEFAULT_CONTEXT
