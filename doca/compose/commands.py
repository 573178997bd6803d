"""``doca compose``: the click commands. Each loads the project, then hands the engine work to
``operations`` through the CLI's Session."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from doca.cli import build_flags
from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import EngineClient, StreamError
from doca.compose import images, operations
from doca.compose import labels as L
from doca.compose.build_config import BuildFlags
from doca.compose.config_output import to_json, to_yaml
from doca.compose.errors import ComposeError
from doca.compose.loader import LoadOptions, load_project
from doca.compose.project import Project


def _report(line: str) -> None:
    click.echo(line, err=True)


def _warn(line: str) -> None:
    click.echo(f"WARN[0000] {line}", err=True)


def _output(text: str) -> None:
    click.echo(text, nl=False)


def _discard(_text: str) -> None:
    pass


class ComposeGroup(click.Group):
    """A compose file that does not load ends the command with its message and exit 1; a
    failed build with its message and the failed step's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ComposeError as error:
            click.echo(str(error), err=True)
            sys.exit(GENERAL_ERROR)
        except StreamError as error:
            click.echo(error.message, err=True)
            sys.exit(error.code or GENERAL_ERROR)


@click.group(cls=ComposeGroup)
@click.option("-f", "--file", "files", multiple=True, help="Compose configuration files.")
@click.option("-p", "--project-name", help="Project name.")
@click.option("--project-directory", help="Alternate working directory.")
@click.option("--env-file", "env_files", multiple=True, help="Alternate environment files.")
@click.option("--profile", "profiles", multiple=True, help="Profiles to enable.")
@click.pass_context
def compose(
    ctx: click.Context,
    files: tuple[str, ...],
    project_name: str | None,
    project_directory: str | None,
    env_files: tuple[str, ...],
    profiles: tuple[str, ...],
) -> None:
    """Define and run multi-container applications (Compose Specification)."""
    ctx.obj = (ctx.find_object(Session), LoadOptions(
        files=list(files), project_name=project_name, project_directory=project_directory,
        env_files=list(env_files), profiles=list(profiles), warn=_warn,
    ))  # fmt: skip


def _context(ctx: click.Context, targets: tuple[str, ...] = ()) -> tuple[Session, Project]:
    session, options = ctx.obj
    options.targets = list(targets)
    return session, load_project(options)


def _project_name(ctx: click.Context) -> tuple[Session, str, Project | None]:
    """The project a management command acts on: from the files when there are any, else from
    ``-p`` alone (as Compose lets ``down``/``ps`` work without the files)."""
    session, options = ctx.obj
    try:
        project = load_project(options)
    except ComposeError:
        if not options.project_name:
            raise
        return session, options.project_name, None
    return session, project.name, project


@compose.command()
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--services", is_flag=True, help="Print the service names, one per line.")
@click.pass_context
def config(ctx: click.Context, fmt: str, services: bool) -> None:
    """Parse, resolve and render the compose file in canonical format."""
    _, project = _context(ctx)
    if services:
        click.echo("\n".join(project.services))
    else:
        click.echo(to_json(project) if fmt == "json" else to_yaml(project), nl=fmt == "json")


@compose.command()
@click.option("--build-arg", "build_args", multiple=True, metavar="K[=V]",
              help="Set a build-time variable for the services.")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer base image.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output.")
@click.option("-m", "--memory", callback=build_flags.size_callback,
              help="Memory limit of the build's RUN steps.")  # fmt: skip
@click.option("--with-dependencies", is_flag=True, help="Also build the dependencies.")
@click.argument("services", nargs=-1)
@click.pass_context
def build(
    ctx: click.Context, build_args: tuple[str, ...], no_cache: bool, pull: bool, quiet: bool,
    memory: int, with_dependencies: bool, services: tuple[str, ...],
) -> None:  # fmt: skip
    """Build or rebuild services."""
    session, project = _context(ctx, services)
    args = {key: value if sep else None
            for key, sep, value in (arg.partition("=") for arg in build_args)}  # fmt: skip
    flags = BuildFlags(args, no_cache, pull, memory)
    names = project.start_order(list(services) or None, with_deps=with_dependencies)
    report, output = (_discard, _discard) if quiet else (_report, _output)
    session.run(lambda client: images.build(client, project, names, report, output, flags))


@compose.command()
@click.option("-d", "--detach", is_flag=True, help="Run containers in the background.")
@click.option("--build", "force_build", is_flag=True, help="Build images before starting.")
@click.option("--no-build", is_flag=True, help="Don't build an image, even if it's missing.")
@click.option("--force-recreate", is_flag=True)
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.option("--remove-orphans", is_flag=True)
@click.option("-t", "--timeout", type=int, default=None)
@click.argument("services", nargs=-1)
@click.pass_context
def up(
    ctx: click.Context,
    detach: bool,
    force_build: bool,
    no_build: bool,
    force_recreate: bool,
    no_deps: bool,
    remove_orphans: bool,
    timeout: int | None,
    services: tuple[str, ...],
) -> None:
    """Create and start containers."""
    if force_build and no_build:
        raise click.UsageError("--build and --no-build are incompatible")
    session, project = _context(ctx, services)

    async def run(client: EngineClient) -> None:
        await operations.up(client, project, list(services), _report, force_recreate,
                            no_deps, remove_orphans, timeout, output=_output,
                            no_build=no_build, force_build=force_build)  # fmt: skip
        if not detach:
            try:
                await _print_logs(client, project.name, list(services), follow=True)
            except asyncio.CancelledError:
                await operations.stop(client, project.name, list(services), _report, timeout)

    session.run(run)


@compose.command()
@click.option("-v", "--volumes", is_flag=True, help="Remove named volumes too.")
@click.option("--remove-orphans", is_flag=True)
@click.option("-t", "--timeout", type=int, default=None)
@click.pass_context
def down(ctx: click.Context, volumes: bool, remove_orphans: bool, timeout: int | None) -> None:
    """Stop and remove containers and networks."""
    session, name, project = _project_name(ctx)
    session.run(lambda client: operations.down(
        client, name, project, _report, volumes, remove_orphans, timeout
    ))  # fmt: skip


@compose.command()
@click.option("-t", "--timeout", type=int, default=None)
@click.argument("services", nargs=-1)
@click.pass_context
def stop(ctx: click.Context, timeout: int | None, services: tuple[str, ...]) -> None:
    """Stop services."""
    session, name, _ = _project_name(ctx)
    session.run(lambda client: operations.stop(client, name, list(services), _report, timeout))


@compose.command()
@click.argument("services", nargs=-1)
@click.pass_context
def start(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Start services."""
    session, name, _ = _project_name(ctx)
    session.run(lambda client: operations.start(client, name, list(services), _report))


@compose.command()
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal.")
@click.argument("services", nargs=-1)
@click.pass_context
def rm(ctx: click.Context, force: bool, services: tuple[str, ...]) -> None:
    """Remove stopped service containers."""
    session, name, _ = _project_name(ctx)
    if not force and not click.confirm("Going to remove stopped containers. Continue?"):
        return
    session.run(lambda client: operations.remove_stopped(client, name, list(services), _report))


@compose.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show stopped containers too.")
@click.option("--format", "fmt", default="table")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def ps(ctx: click.Context, show_all: bool, fmt: str, quiet: bool) -> None:
    """List containers."""
    session, name, _ = _project_name(ctx)
    rows = session.run(lambda client: operations.project_containers(client, name, show_all))
    if quiet:
        click.echo("\n".join(row["Id"] for row in rows))
    elif fmt == "json":
        for row in rows:
            click.echo(json.dumps(ps_row(row)))
    else:
        table = [("NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS")] + [
            (r["Name"], r["Image"], r["Command"], r["Service"], r["Status"], r["Ports"])
            for r in map(ps_row, rows)
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        for line in table:
            click.echo("   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def ps_row(container: dict[str, Any]) -> dict[str, Any]:
    """One container as `docker compose ps --format json` prints it."""
    labels = container.get("Labels") or {}
    ports = container.get("Ports") or []
    publishers = [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort", 0),
                   "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type", "tcp")}
                  for p in ports]  # fmt: skip
    shown = ", ".join(
        f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
        if p["PublishedPort"] else f"{p['TargetPort']}/{p['Protocol']}" for p in publishers
    )  # fmt: skip
    name = str((container.get("Names") or [""])[0]).lstrip("/")
    return {
        "Command": json.dumps(container.get("Command", "")),
        "CreatedAt": container.get("Created", 0),
        "ID": container["Id"],
        "Image": container.get("Image", ""),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Name": name,
        "Names": name,
        "Project": labels.get(L.PROJECT, ""),
        "Publishers": publishers,
        "Ports": shown,
        "Service": labels.get(L.SERVICE, ""),
        "State": container.get("State", ""),
        "Status": container.get("Status", ""),
        "Health": "",
        "ExitCode": 0,
    }


@compose.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.argument("services", nargs=-1)
@click.pass_context
def logs(ctx: click.Context, follow: bool, services: tuple[str, ...]) -> None:
    """View output from containers."""
    session, name, _ = _project_name(ctx)
    session.run(lambda client: _print_logs(client, name, list(services), follow))


async def _print_logs(
    client: EngineClient, project: str, services: list[str], follow: bool
) -> None:
    """Every container's log lines prefixed ``<service>-<n>  | `` as Compose prints them,
    interleaved as they come."""
    containers = [c for c in await operations.project_containers(client, project)
                  if not services or c["Labels"].get(L.SERVICE) in services]  # fmt: skip
    prefixes = {c["Id"]: f"{c['Labels'][L.SERVICE]}-{c['Labels'].get(L.NUMBER, '1')}"
                for c in containers}  # fmt: skip
    width = max((len(p) for p in prefixes.values()), default=0)

    async def one(container_id: str) -> None:
        prefix = prefixes[container_id].ljust(width) + "  | "
        pending = b""
        async for _, chunk in client.containers.logs(container_id, follow=follow):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                click.echo(prefix + line.decode(errors="replace"))
        if pending:
            click.echo(prefix + pending.decode(errors="replace"))

    async with asyncio.TaskGroup() as group:
        for container_id in prefixes:
            group.create_task(one(container_id))


@compose.command(name="ls")
@click.option("--format", "fmt", default="table")
@click.pass_context
def list_projects(ctx: click.Context, fmt: str) -> None:
    """List running compose projects."""
    session, _ = ctx.obj
    rows = session.run(operations.list_projects)
    if fmt == "json":
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'NAME':<20}{'STATUS':<20}CONFIG FILES")
    for row in rows:
        click.echo(f"{row['Name']:<20}{row['Status']:<20}{row['ConfigFiles']}")
