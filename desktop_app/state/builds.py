"""`docker build` for the desktop app: what the build dialog asks for, checked and turned into
``BuildOptions``; the context tar made as the docker CLI makes it (in a thread, in a scratch
directory); and ``BuildOutput``, which folds the engine's messages into text and a result."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doca.cli.build_output import registry_config
from doca.cli.registry_commands import parse_reference
from doca.client import EngineClient, EngineError, StreamError
from doca.client.build_context import ContextError, local_context, write_context
from doca.client.build_options import BuildOptions


class BuildConfigError(ValueError):
    """Something the user typed that cannot be built; the message says what and where."""


class BuildFailed(EngineError):
    """The build did not finish: a step failed (the engine's message), or the context could
    not be sent (status 0: the engine was never asked)."""


def parse_build_args(text: str, environ: Mapping[str, str]) -> dict[str, str | None]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped); a bare ``KEY`` takes the
    environment's value, or stays unset for the Dockerfile's default, as ``--build-arg`` does."""
    args: dict[str, str | None] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise BuildConfigError(f"build argument line {number}: expected KEY=value: {line!r}")
        if not sep and key in environ:
            sep, value = "=", environ[key]
        args[key] = value if sep else None
    return args


def parse_tags(text: str) -> list[str]:
    """Image names separated by commas or spaces, each checked as ``-t`` checks it."""
    tags = text.replace(",", " ").split()
    for tag in tags:
        if "@" in tag:
            raise BuildConfigError(f"tag {tag!r}: a tag cannot name a digest")
        try:
            parse_reference(tag)
        except ValueError as exc:
            raise BuildConfigError(f"tag {tag!r}: {exc}") from None
    return tags


@dataclass
class BuildRequest:
    context: str
    dockerfile: str = ""  # "" for the context's Dockerfile; relative paths are the context's
    tags_text: str = ""
    build_args_text: str = ""
    no_cache: bool = False
    pull: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def context_dir(self) -> Path:
        if not self.context.strip():
            raise BuildConfigError("choose a context directory")
        return Path(self.context.strip()).expanduser()

    def dockerfile_path(self) -> str:
        """The Dockerfile as ``-f`` names it: absolute, or "" for the default."""
        text = self.dockerfile.strip()
        if not text:
            return ""
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else self.context_dir() / path)

    def to_options(self) -> BuildOptions:
        """The build's options, without the Dockerfile's name in the context (known once the
        context is written); ``BuildConfigError`` for bad input."""
        self.context_dir()
        return BuildOptions(
            tags=parse_tags(self.tags_text),
            build_args=parse_build_args(self.build_args_text, self.environ),
            no_cache=self.no_cache,
            pull=self.pull,
        )


class BuildOutput:
    """The build so far: its text as the CLI prints it, the image ID, the error."""

    def __init__(self) -> None:
        self.text = ""
        self.image_id = ""
        self.error = ""

    def update(self, message: dict[str, Any]) -> str:
        """Fold one message in; the text it added."""
        aux = message.get("aux")
        if isinstance(aux, dict):
            self.image_id = str(aux.get("ID") or self.image_id)
            return ""
        added = ""
        if message.get("stream"):
            added = str(message["stream"])
        elif message.get("status"):
            detail = message.get("progressDetail") or {}
            if detail.get("total"):
                return ""  # a pull's progress bar: only the steps' lines are kept
            prefix = f"{message['id']}: " if message.get("id") else ""
            added = f"{prefix}{message['status']}\n"
        self.text += added
        return added

    def summary(self, tags: list[str]) -> str:
        if self.error:
            return f"Error: {self.error}"
        if not self.image_id:
            return "Building…"
        short = self.image_id.removeprefix("sha256:")[:12]
        return f"Built {short}" + (f", tagged {', '.join(tags)}" if tags else "")


def _write_context(archive: Path, request: BuildRequest) -> str:
    with archive.open("wb") as out:
        context = local_context(str(request.context_dir()), request.dockerfile_path())
        return write_context(out, context)


async def run_build(
    client: EngineClient,
    request: BuildRequest,
    output: BuildOutput,
    on_output: Callable[[str], None] | None = None,
) -> str:
    """Build the image; its ID. The context is written and the credentials read in threads;
    each message's text goes to ``on_output``. A failed step raises ``BuildFailed``."""
    options = request.to_options()
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="doca-desktop-build-"))
    try:
        archive = scratch / "context.tar"
        try:
            options.dockerfile = await asyncio.to_thread(_write_context, archive, request)
        except (ContextError, OSError) as exc:
            raise BuildFailed(0, str(exc)) from exc
        auth = await asyncio.to_thread(registry_config)
        try:
            async for message in client.images.build(archive, options, auth):
                added = output.update(message)
                if added and on_output is not None:
                    on_output(added)
        except StreamError as exc:
            output.error = exc.message
            raise BuildFailed(500, exc.message) from exc
    finally:
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, scratch, True))
    if not output.image_id:
        output.error = "the engine ended the build without an image"
        raise BuildFailed(500, output.error)
    return output.image_id
