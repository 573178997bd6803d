"""``doca compose exec`` (a command in a service's running container) and ``doca compose run``
(a one-off container of a service), attached like the docker CLI's exec and run."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import sys
from typing import Any

import click

from doca.cli.container_attach import Detached, attached_session
from doca.cli.container_exec import exec_config, run_exec
from doca.cli.container_terminal import terminal_size
from doca.client import EngineClient, NotFound
from doca.compose import labels as L
from doca.compose import operations
from doca.compose.convergence import create_replica, number_of, wait_for_dependency
from doca.compose.errors import ComposeError
from doca.compose.group import compose, discard, report, with_project
from doca.compose.images import ensure_images
from doca.compose.project import Project
from doca.compose.shapes import command as split_command
from doca.compose.shapes import ports as parse_ports
from doca.compose.shapes import volumes as parse_volumes

SLUG = "com.docker.compose.slug"
ARGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def _fail(message: str) -> Any:
    raise ComposeError(message)


def _wants_tty(no_tty: bool) -> bool:
    return not no_tty and sys.stdin.isatty() and sys.stdout.isatty()


@compose.command("exec", context_settings=ARGS)
@click.option("-d", "--detach", is_flag=True, help="Run the command in the background.")
@click.option("-e", "--env", multiple=True, metavar="KEY=VAL", help="Set environment variables.")
@click.option("--index", type=int, default=1, help="Index of the container if several.")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the process.")
@click.option("-T", "--no-tty", "no_tty", is_flag=True, help="Disable pseudo-TTY allocation.")
@click.option("-u", "--user", help="Run the command as this user.")
@click.option("-w", "--workdir", help="Path to workdir directory for this command.")
@click.argument("service")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(
    ctx: click.Context, detach: bool, env: tuple[str, ...], index: int, privileged: bool,
    no_tty: bool, user: str | None, workdir: str | None, service: str, command: tuple[str, ...],
) -> None:  # fmt: skip
    """Execute a command in a running container."""
    session, project = with_project(ctx, (service,))
    project.service(service)
    tty = _wants_tty(no_tty)
    options = exec_config(not detach, terminal_size() if tty else None, detach, privileged, "")

    async def operation(client: EngineClient) -> int:
        rows = await operations.project_containers(client, project.name, all=False)
        mine = [r for r in rows if r["Labels"].get(L.SERVICE) == service]
        chosen = next((r for r in mine if number_of(r) == index), None)
        if chosen is None:
            if not mine:
                raise ComposeError(f'service "{service}" is not running')
            raise ComposeError(f'service "{service}" is not running container #{index}')
        return await run_exec(client, chosen["Id"], list(command), list(env), workdir, user,
                              options)  # fmt: skip

    sys.exit(session.run(operation))


@compose.command(context_settings=ARGS)
@click.option("-d", "--detach", is_flag=True, help="Run container in background.")
@click.option("--rm", "auto_remove", is_flag=True, help="Remove the container when it exits.")
@click.option("--name", help="Assign a name to the container.")
@click.option("-e", "--env", multiple=True, metavar="KEY=VAL", help="Set environment variables.")
@click.option("-l", "--label", "labels", multiple=True, metavar="KEY=VAL", help="Add labels.")
@click.option("-u", "--user", help="Run as this user.")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("--entrypoint", help="Override the entrypoint of the image.")
@click.option("-v", "--volume", "volumes", multiple=True, help="Bind mount a volume.")
@click.option("-p", "--publish", multiple=True, help="Publish a container's port to the host.")
@click.option("--service-ports", is_flag=True, help="Publish the service's ports.")
@click.option("--use-aliases", is_flag=True, help="Use the service's network aliases.")
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.option("-T", "--no-tty", "no_tty", is_flag=True, help="Disable pseudo-TTY allocation.")
@click.option("-i", "--interactive/--no-interactive", default=True, help="Keep STDIN open.")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context, detach: bool, auto_remove: bool, name: str | None, env: tuple[str, ...],
    labels: tuple[str, ...], user: str | None, workdir: str | None, entrypoint: str | None,
    volumes: tuple[str, ...], publish: tuple[str, ...], service_ports: bool, use_aliases: bool,
    no_deps: bool, no_tty: bool, interactive: bool, service: str, command: tuple[str, ...],
) -> None:  # fmt: skip
    """Run a one-off command on a service."""
    session, project = with_project(ctx, (service,))
    definition = dict(project.service(service))
    tty = _wants_tty(no_tty)
    definition.update(tty=tty, stdin_open=interactive and not detach, restart="no")
    definition.pop("scale", None)
    if command:
        definition["command"] = list(command)
    if entrypoint is not None:
        definition["entrypoint"] = split_command(entrypoint, _fail)
        if not command:
            definition["command"] = []
    for key, value in (("user", user), ("working_dir", workdir)):
        if value:
            definition[key] = value
    definition["environment"] = {**(definition.get("environment") or {}),
                                 **_run_environment(env, project.environment)}  # fmt: skip
    definition["labels"] = {**(definition.get("labels") or {}),
                            **dict(label.partition("=")[::2] for label in labels)}  # fmt: skip
    ports = list(definition.get("ports") or []) if service_ports else []
    definition["ports"] = ports + [p for entry in publish for p in parse_ports([entry], _fail)]
    if volumes:
        definition["volumes"] = [*(definition.get("volumes") or []),
                                 *_run_volumes(volumes, project)]  # fmt: skip
    slug = secrets.token_hex(32)
    definition["container_name"] = name or f"{project.name}-{service}-run-{slug[:12]}"
    one_off = dataclasses.replace(project, services={**project.services, service: definition})

    def one_off_body(body: dict[str, Any]) -> None:
        body["Labels"].update({L.ONEOFF: "True", SLUG: slug})
        body["HostConfig"]["AutoRemove"] = auto_remove and not detach
        if not use_aliases:
            for endpoint in body["NetworkingConfig"]["EndpointsConfig"].values():
                endpoint.pop("Aliases", None)

    async def operation(client: EngineClient) -> int:
        if not no_deps:
            await _start_dependencies(client, project, service)
        images = await ensure_images(client, one_off, [service], report, discard, None)
        # Compose numbers a one-off -1 and tells it apart by its labels.
        container = await create_replica(client, one_off, service, -1, images[service], discard,
                                         start=False, adjust=one_off_body)  # fmt: skip
        if detach:
            await client.containers.start(container)
            click.echo((await client.containers.inspect(container))["Id"])
            return 0
        try:
            return await attached_session(
                client, container, tty=tty, stdin=interactive, detach_keys="", sig_proxy=True,
                condition="removed" if auto_remove else "next-exit",
                start=lambda: client.containers.start(container),
            )  # fmt: skip
        except Detached:
            return 0
        finally:
            if auto_remove:
                with contextlib.suppress(NotFound):
                    await client.containers.remove(container, force=True, volumes=True)

    sys.exit(session.run(operation))


def _run_environment(entries: tuple[str, ...], environ: dict[str, str]) -> dict[str, str]:
    """``-e KEY=VALUE``, and ``-e KEY`` taking the variable's value (left out when unset), as
    Compose resolves them."""
    found: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if sep:
            found[key] = value
        elif key in environ:
            found[key] = environ[key]
    return found


def _run_volumes(volumes: tuple[str, ...], project: Project) -> list[dict[str, Any]]:
    return parse_volumes(list(volumes), project.working_dir, _fail)


async def _start_dependencies(client: EngineClient, project: Project, service: str) -> None:
    """``up`` of what ``service`` depends on, then wait for their conditions."""
    dependencies = [d for d in project.start_order([service]) if d != service]
    if not dependencies:
        return
    await operations.up(client, project, dependencies, report)
    for dependency, condition in project.dependencies(service).items():
        if dependency in project.services:
            await wait_for_dependency(client, project, dependency, condition["condition"], report)
