"""Attached sessions: `attach`, `start` (with ``-a``/``-i``), and the attached part of `run`, in
the docker CLI's order: attach, register the wait, start, stream, then the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import click

from doca.cli.container_command import OPTIONS_CONTAINERS_USAGE, DockerCommand
from doca.cli.container_streams import Session as StreamSession
from doca.cli.container_streams import proxy_signals, stream_session
from doca.cli.container_terminal import (
    DEFAULT_DETACH_KEYS,
    is_terminal,
    parse_detach_keys,
)
from doca.cli.runner import ENGINE_ERROR, GENERAL_ERROR, Session, fail, print_error
from doca.client import EngineClient, EngineError, EngineUnavailable

# How long a failed start of an auto-removed container may take to be removed.
REMOVAL_TIMEOUT = 15.0
ESCAPE_MESSAGE = "read escape sequence"


class Detached(Exception):
    """The user typed the detach keys."""


def die(message: str, code: int = GENERAL_ERROR) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def detach_key_bytes(text: str) -> bytes:
    """The keys the client watches for; like the docker CLI, the default ones when ``text``
    names an unknown key (the engine then refuses it with its own message)."""
    if not text:
        return DEFAULT_DETACH_KEYS
    try:
        return parse_detach_keys(text)
    except ValueError:
        return DEFAULT_DETACH_KEYS


def check_tty(stdin: bool, tty: bool) -> None:
    """The docker CLI's CheckTty: a TTY session with stdin needs a terminal on stdin."""
    if stdin and tty and not is_terminal(sys.stdin.fileno()):
        die("the input device is not a TTY")


async def attached_session(
    client: EngineClient,
    container: str,
    *,
    tty: bool,
    stdin: bool,
    detach_keys: str,
    sig_proxy: bool,
    output: tuple[bool, bool] = (True, True),
    condition: str = "next-exit",
    start: Callable[[], Awaitable[None]] | None = None,
    auto_remove: bool = False,
    before_stream: Callable[[], Awaitable[None]] | None = None,
    redraw: bool = False,
) -> int:
    """Attach to ``container`` (its stdout and stderr as ``output`` says), register a wait,
    call ``start``, stream until the output ends; the exit code. Detached raises when the
    detach keys were typed; an error of ``start`` propagates once an auto-removed container is
    gone. ``redraw`` makes a shell in a TTY draw its prompt again (`attach` does it)."""
    containers = client.containers
    stdout, stderr = output
    attach = containers.attach(
        container, tty, stdin=stdin, stdout=stdout, stderr=stderr, detach_keys=detach_keys
    )
    async with attach as hijacked, containers.waiting(container, condition) as status:
        if start is not None:
            try:
                await start()
            except EngineError:
                if auto_remove:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(asyncio.shield(status), REMOVAL_TIMEOUT)
                raise
        if before_stream is not None:
            await before_stream()
        session = StreamSession(stdin, tty, detach_key_bytes(detach_keys), redraw=redraw)
        if tty and is_terminal(sys.stdout.fileno()):
            session.resize = lambda h, w: containers.resize(container, h, w)
        with proxy_signals(lambda name: containers.kill(container, name), sig_proxy):
            if await stream_session(hijacked, session):
                raise Detached()
        try:
            return await status
        except EngineError as error:
            if isinstance(error, EngineUnavailable):
                raise
            click.echo(f"error waiting for container: {error.message}", err=True)
            return ENGINE_ERROR


def _state_problem(details: dict[str, Any]) -> str | None:
    state = details.get("State") or {}
    if not state.get("Running"):
        return "You cannot attach to a stopped container, start it first"
    if state.get("Paused"):
        return "You cannot attach to a paused container, unpause it first"
    if state.get("Restarting"):
        return "You cannot attach to a restarting container, wait until it is running"
    return None


@click.command(cls=DockerCommand, docker_usage="[OPTIONS] CONTAINER")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN.")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy all received signals.")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching.")
@click.argument("container")
@click.pass_obj
def attach(
    session: Session, no_stdin: bool, sig_proxy: bool, detach_keys: str, container: str
) -> None:
    """Attach local standard input, output, and error streams to a running container."""

    async def operation(client: EngineClient) -> int:
        details = await client.containers.inspect(container)
        problem = _state_problem(details)
        if problem:
            die(problem)
        config = details.get("Config") or {}
        tty = bool(config.get("Tty"))
        check_tty(not no_stdin, tty)
        stdin = not no_stdin and bool(config.get("OpenStdin"))

        async def recheck() -> None:
            # It may have stopped since: then the attach would wait for nothing.
            problem = _state_problem(await client.containers.inspect(container))
            if problem:
                die(problem)

        try:
            return await attached_session(
                client, str(details.get("Id") or container), tty=tty, stdin=stdin,
                detach_keys=detach_keys, sig_proxy=sig_proxy and not tty,
                condition="not-running", before_stream=recheck, redraw=True,
            )  # fmt: skip
        except Detached:
            die(ESCAPE_MESSAGE)

    sys.exit(session.run(operation))


async def _start_attached(
    client: EngineClient, session: Session, container: str, interactive: bool, detach_keys: str
) -> int:
    details = await client.containers.inspect(container)
    config = details.get("Config") or {}
    tty = bool(config.get("Tty"))
    identifier = str(details.get("Id") or container)
    auto_remove = bool((details.get("HostConfig") or {}).get("AutoRemove"))
    try:
        return await attached_session(
            client, identifier, tty=tty, stdin=interactive and bool(config.get("OpenStdin")),
            detach_keys=detach_keys, sig_proxy=not tty,
            condition="removed" if auto_remove else "next-exit",
            start=lambda: client.containers.start(identifier), auto_remove=auto_remove,
        )  # fmt: skip
    except Detached:
        return 0
    except EngineUnavailable:
        raise
    except EngineError as error:
        fail(error, session.host)


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-a", "--attach", "attach_output", is_flag=True, help="Attach STDOUT/STDERR.")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN.")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(
    session: Session,
    attach_output: bool,
    interactive: bool,
    detach_keys: str,
    containers: tuple[str, ...],
) -> None:
    """Start one or more stopped containers."""
    if attach_output or interactive:
        if len(containers) > 1:
            die("you cannot start and attach multiple containers at once")
        sys.exit(
            session.run(
                lambda client: _start_attached(
                    client, session, containers[0], interactive, detach_keys
                )
            )
        )

    async def operation(client: EngineClient) -> list[str]:
        failed = []
        for container in containers:
            try:
                await client.containers.start(container)
            except EngineUnavailable:
                raise
            except EngineError as error:
                print_error(error, session.host)
                failed.append(container)
            else:
                click.echo(container)
        return failed

    failed = session.run(operation)
    if failed:
        die(f"Error: failed to start containers: {', '.join(failed)}")
