"""`run` and `create`: the ContainerCreate body from the docker CLI's flags, an image pulled when
it is missing ("Unable to find image … locally"), and for `run` the attached session and the
container's exit code."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any, NoReturn

import click

from doca.cli.container_attach import Detached, attached_session, check_tty
from doca.cli.container_command import IMAGE_COMMAND, DockerCommand
from doca.cli.container_config import create_body
from doca.cli.container_terminal import terminal_size
from doca.cli.registry_commands import DEFAULT_TAG, parse_reference, progress_line
from doca.cli.run_flags import FlagError, container_flags
from doca.cli.runner import ENGINE_ERROR, GENERAL_ERROR, Session, fail, start_error_code
from doca.client import EngineClient, EngineError, EngineUnavailable, NotFound
from doca.credhelper import dockerconfig as dc
from doca.credhelper.helpers import HelperError

PULL_POLICIES = ("always", "missing", "never")
USAGE = "[OPTIONS] IMAGE [COMMAND] [ARG...]"


def flag_failure(error: FlagError, command: str) -> NoReturn:
    """Exit 125 with the docker CLI's words for flags it refuses."""
    more = f"Run 'doca {command} --help' for more information"
    if error.usage:
        click.echo(f"{error}\n\nUsage:  doca {command} {USAGE}\n\n{more}", err=True)
    else:
        click.echo(f"doca: {error}\n\n{more}", err=True)
    sys.exit(ENGINE_ERROR)


def request_body(
    values: dict[str, Any], image: str, command: tuple[str, ...], name: str
) -> dict[str, Any]:
    """The create body for a command line, or the flag error and exit 125."""
    pull = values.get("pull") or "missing"
    try:
        if pull not in PULL_POLICIES:
            raise FlagError(
                f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"'
            )
        return create_body(values, image, command, os.environ, terminal_size())
    except FlagError as error:
        flag_failure(error, name)


async def pull_image(client: EngineClient, image: str, platform: str, quiet: bool) -> None:
    """Pull ``image`` showing the progress on stderr, as `run` and `create` do."""
    try:
        reference = parse_reference(image)
        auth = dc.auth_header_value(reference.domain)
    except (ValueError, dc.ConfigError, HelperError) as error:
        # The client's own error, not the engine's: shown as it is.
        raise EngineError(0, str(error)) from None
    tag = reference.digest or reference.tag or DEFAULT_TAG
    async for message in client.images.pull(reference.familiar_name, tag, platform, auth):
        line = progress_line(message)
        if line is not None and not quiet:
            click.echo(line, nl=False, err=True)


def _familiar(image: str) -> str | None:
    """``busybox:latest`` for ``busybox`` (FamiliarString of TagNameOnly); None when the
    image is named by its ID."""
    try:
        reference = parse_reference(image)
    except ValueError:
        return None
    name = reference.familiar_name
    if reference.digest:
        return f"{name}:{reference.tag}@{reference.digest}" if reference.tag else \
            f"{name}@{reference.digest}"  # fmt: skip
    return f"{name}:{reference.tag or DEFAULT_TAG}"


def _warnings(body: dict[str, Any]) -> list[str]:
    for server in body["HostConfig"].get("Dns") or []:
        try:
            if ipaddress.ip_address(server).is_loopback:
                return [f"Localhost DNS ({server}) may fail in containers."]
        except ValueError:
            continue
    return []


async def create_container(
    client: EngineClient, body: dict[str, Any], values: dict[str, Any]
) -> str:
    """Create the container (pulling its image first with ``--pull always``, or when it is
    missing with ``--pull missing``); its ID, written to ``--cidfile`` if asked."""
    cidfile = values.get("cidfile")
    if cidfile and os.path.exists(cidfile):
        raise EngineError(
            0, f"container ID file found, make sure the other container isn't running or "
            f"delete {cidfile}"
        )  # fmt: skip
    image, name = str(body["Image"]), values.get("name") or None
    platform, quiet = values.get("platform") or "", bool(values.get("quiet"))
    pull = values.get("pull") or "missing"
    if pull == "always":
        await pull_image(client, image, platform, quiet)
    try:
        identifier = await client.containers.create(body, name=name, platform=platform)
    except NotFound as error:
        familiar = _familiar(image)
        if pull != "missing" or familiar is None or "image" not in error.message.lower():
            raise
        if not quiet:
            click.echo(f"Unable to find image '{familiar}' locally", err=True)
        await pull_image(client, image, platform, quiet)
        identifier = await client.containers.create(body, name=name, platform=platform)
    for warning in _warnings(body):
        click.echo(f"WARNING: {warning}", err=True)
    if cidfile:
        with open(cidfile, "w") as out:
            out.write(identifier)
    return identifier


def _engine_failure(session: Session, error: EngineError, code: int) -> NoReturn:
    if error.status == 0 and not isinstance(error, EngineUnavailable):
        click.echo(error.message, err=True)
        sys.exit(code)
    fail(error, session.host, code)


@click.command(cls=DockerCommand, context_settings=IMAGE_COMMAND, docker_usage=USAGE)
@container_flags(run=False)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def create(session: Session, image: str, command: tuple[str, ...], **values: Any) -> None:
    """Create a new container; print its ID."""
    body = request_body(values, image, command, "create")

    async def operation(client: EngineClient) -> str:
        try:
            return await create_container(client, body, values)
        except EngineError as error:
            _engine_failure(session, error, GENERAL_ERROR)

    click.echo(session.run(operation))


@click.command(cls=DockerCommand, context_settings=IMAGE_COMMAND, docker_usage=USAGE)
@container_flags(run=True)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(session: Session, image: str, command: tuple[str, ...], **values: Any) -> None:
    """Create and run a new container from an image; attached, exit with its code."""
    body = request_body(values, image, command, "run")
    detach = bool(values.get("detach"))
    if detach:
        if values.get("attach"):
            click.echo("conflicting options: cannot specify both --attach and --detach", err=True)
            sys.exit(GENERAL_ERROR)
        body.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    else:
        check_tty(body["AttachStdin"], body["Tty"])
    auto_remove = bool(body["HostConfig"].get("AutoRemove"))

    async def operation(client: EngineClient) -> int:
        try:
            container = await create_container(client, body, values)
        except EngineError as error:
            _engine_failure(session, error, ENGINE_ERROR)
        started = False

        async def start() -> None:
            nonlocal started
            await client.containers.start(container)
            started = True

        try:
            if detach:
                click.echo(container)
                await start()
                return 0
            return await attached_session(
                client, container, tty=bool(body["Tty"]), stdin=bool(body["AttachStdin"]),
                detach_keys=values.get("detach_keys") or "", sig_proxy=bool(values["sig_proxy"]),
                output=(bool(body["AttachStdout"]), bool(body["AttachStderr"])),
                condition="removed" if auto_remove else "next-exit", start=start,
                auto_remove=auto_remove,
            )  # fmt: skip
        except Detached:
            return 0
        except EngineUnavailable:
            raise
        except EngineError as error:
            fail(error, session.host, ENGINE_ERROR if started else start_error_code(error.message))

    sys.exit(session.run(operation))
