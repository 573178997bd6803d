"""The one place where CLI commands meet asyncio and the engine, and where engine errors become
messages and exit codes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import click

from doca.client import EngineClient, EngineError, EngineUnavailable

T = TypeVar("T")

# Exit codes of the docker CLI.
GENERAL_ERROR = 1
ENGINE_ERROR = 125
CANNOT_INVOKE = 126
COMMAND_NOT_FOUND = 127


@dataclass
class Session:
    """The engine host a command talks to; stored as the click context's ``obj``."""

    host: str

    def run(self, operation: Callable[[EngineClient], Awaitable[T]]) -> T:
        """Run ``operation`` with a client on a fresh event loop, closing the client after."""

        async def with_client() -> T:
            async with EngineClient(self.host) as client:
                return await operation(client)

        try:
            return asyncio.run(with_client())
        except ValueError as exc:  # an unsupported host scheme
            raise click.UsageError(str(exc)) from exc


def unreachable_message(host: str) -> str:
    return f"Cannot connect to the Doca engine at {host}. Is doca-engine running?"


def print_error(error: EngineError, host: str) -> None:
    """The docker CLI's wording for an engine error, on stderr."""
    if isinstance(error, EngineUnavailable) and host.startswith("ssh://"):
        # ssh's own reason (a refused key, an unknown host) is the useful part, as docker shows.
        click.echo(f"error during connect: {error.message}", err=True)
    elif isinstance(error, EngineUnavailable):
        click.echo(unreachable_message(host), err=True)
    else:
        click.echo(f"Error response from daemon: {error.message}", err=True)


def fail(error: EngineError, host: str, code: int = GENERAL_ERROR) -> NoReturn:
    print_error(error, host)
    sys.exit(GENERAL_ERROR if isinstance(error, EngineUnavailable) else code)


def start_error_code(message: str) -> int:
    """The exit code of `docker run` when the container does not start (as cli/command/container
    /run.go decides it from the engine's message)."""
    if any(
        text in message
        for text in (
            "executable file not found",
            "no such file or directory",
            "system cannot find the file specified",
        )
    ):
        return COMMAND_NOT_FOUND
    if "permission denied" in message or "is a directory" in message:
        return CANNOT_INVOKE
    return ENGINE_ERROR


def for_each(
    session: Session,
    targets: Iterable[str],
    action: Callable[[EngineClient, str], Awaitable[object]],
) -> None:
    """Apply ``action`` to every target, printing each one done or each error, as the docker CLI
    does for `rm`, `stop` …; exit 1 when any failed."""

    async def operation(client: EngineClient) -> bool:
        failed = False
        for target in targets:
            try:
                await action(client, target)
            except EngineUnavailable:
                raise
            except EngineError as error:
                print_error(error, session.host)
                failed = True
            else:
                click.echo(target)
        return failed

    if session.run(operation):
        sys.exit(GENERAL_ERROR)
