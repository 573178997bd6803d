"""``doca compose``'s project-wide commands — ``config``, ``build``, ``pull``, ``push``, ``up``,
``down`` — and the group with every command registered. Each loads the project, then hands
the engine work to ``operations`` through the CLI's Session."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import click

from doca.cli import build_flags
from doca.client import EngineClient
from doca.compose import (
    commands_exec,
    commands_lifecycle,
    commands_view,
    images,
    operations,
    plugin,
)
from doca.compose.build_config import BuildFlags
from doca.compose.config_output import to_json, to_yaml
from doca.compose.errors import ComposeError
from doca.compose.group import compose, discard, output, report, with_project, with_project_name
from doca.compose.service_hash import service_hash

__all__ = ["compose"]
_REGISTERED = (commands_exec, commands_lifecycle, commands_view, plugin)


@compose.command()
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option("--services", is_flag=True, help="Print the service names, one per line.")
@click.option("--volumes", is_flag=True, help="Print the volume names, one per line.")
@click.option("--images", is_flag=True, help="Print the image names, one per line.")
@click.option("--hash", "hash_of", help="Print the service config hash, one per line.")
@click.option("-q", "--quiet", is_flag=True, help="Only validate the configuration.")
@click.pass_context
def config(
    ctx: click.Context, fmt: str, services: bool, volumes: bool, images: bool,
    hash_of: str | None, quiet: bool,
) -> None:  # fmt: skip
    """Parse, resolve and render the compose file in canonical format."""
    _, project = with_project(ctx)
    if quiet:
        return
    if hash_of is not None:
        names = sorted(project.services) if hash_of == "*" else hash_of.split(",")
        for name in names:
            if name not in project.services:
                raise ComposeError(f"no such service: {name}: not found")
            click.echo(f"{name} {service_hash(project.services[name])}")
    elif services:
        click.echo("\n".join(project.services))
    elif volumes:
        click.echo("\n".join(project.volumes), nl=bool(project.volumes))
    elif images:
        click.echo("\n".join(project.image_name(name) for name in project.services))
    else:
        click.echo(to_json(project) if fmt == "json" else to_yaml(project), nl=False)


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
    session, project = with_project(ctx, services)
    args = {key: value if sep else None
            for key, sep, value in (arg.partition("=") for arg in build_args)}  # fmt: skip
    flags = BuildFlags(args, no_cache, pull, memory)
    names = project.start_order(list(services) or None, with_deps=with_dependencies)
    shown, written = (discard, discard) if quiet else (report, output)
    session.run(lambda client: images.build(client, project, names, shown, written, flags))


@compose.command()
@click.option("-d", "--detach", is_flag=True, help="Run containers in the background.")
@click.option("--build", "force_build", is_flag=True, help="Build images before starting.")
@click.option("--no-build", is_flag=True, help="Don't build an image, even if it's missing.")
@click.option("--force-recreate", is_flag=True)
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.option("--remove-orphans", is_flag=True)
@click.option("--scale", "scale", multiple=True, metavar="SERVICE=NUM",
              help="Scale SERVICE to NUM instances.")  # fmt: skip
@click.option("--wait", is_flag=True, help="Wait for services to be running|healthy.")
@click.option("--wait-timeout", type=int, default=None, help="Maximum seconds to wait.")
@click.option("-t", "--timeout", type=int, default=None)
@click.argument("services", nargs=-1)
@click.pass_context
def up(
    ctx: click.Context, detach: bool, force_build: bool, no_build: bool, force_recreate: bool,
    no_deps: bool, remove_orphans: bool, scale: tuple[str, ...], wait: bool,
    wait_timeout: int | None, timeout: int | None, services: tuple[str, ...],
) -> None:  # fmt: skip
    """Create and start containers."""
    if force_build and no_build:
        raise click.UsageError("--build and --no-build are incompatible")
    session, project = with_project(ctx, services)
    scales = _scales(scale, project.services)

    async def run(client: EngineClient) -> None:
        await operations.up(client, project, list(services), report, force_recreate,
                            no_deps, remove_orphans, timeout, output=output,
                            no_build=no_build, force_build=force_build, scales=scales)  # fmt: skip
        if wait:
            await operations.wait_running(client, project, list(services), report, wait_timeout)
        elif not detach:
            try:
                await commands_view.print_logs(client, project.name, list(services), follow=True)
            except asyncio.CancelledError:
                await commands_lifecycle.lifecycle.stop(client, project.name, list(services),
                                                        report, timeout)  # fmt: skip

    session.run(run)


def _scales(values: tuple[str, ...], services: Mapping[str, object]) -> dict[str, int]:
    scales = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.isdigit():
            raise ComposeError(f"invalid --scale value {value!r}: expected SERVICE=NUM")
        if name not in services:
            raise ComposeError(f"no such service: {name}")
        scales[name] = int(number)
    return scales


@compose.command()
@click.option("-v", "--volumes", is_flag=True, help="Remove named volumes too.")
@click.option("--rmi", type=click.Choice(["local", "all"]),
              help="Remove images used by services.")  # fmt: skip
@click.option("--remove-orphans", is_flag=True)
@click.option("-t", "--timeout", type=int, default=None)
@click.pass_context
def down(
    ctx: click.Context, volumes: bool, rmi: str | None, remove_orphans: bool, timeout: int | None
) -> None:
    """Stop and remove containers, networks (and volumes, images)."""
    session, name, project = with_project_name(ctx)
    session.run(lambda client: operations.down(
        client, name, project, report, volumes, remove_orphans, timeout, rmi
    ))  # fmt: skip


@compose.command()
@click.option("--ignore-buildable", is_flag=True, help="Ignore images that can be built.")
@click.option("-q", "--quiet", is_flag=True, help="Pull without printing progress.")
@click.argument("services", nargs=-1)
@click.pass_context
def pull(
    ctx: click.Context, ignore_buildable: bool, quiet: bool, services: tuple[str, ...]
) -> None:
    """Pull service images."""
    session, project = with_project(ctx, services)
    names = [n for n in (services or project.services)
             if not (ignore_buildable and "build" in project.services[n])]  # fmt: skip
    shown = discard if quiet else report
    session.run(lambda client: images.pull_services(client, project, names, shown))


@compose.command()
@click.option("--ignore-push-failures", is_flag=True, help="Push what can be pushed.")
@click.option("-q", "--quiet", is_flag=True, help="Push without printing progress.")
@click.argument("services", nargs=-1)
@click.pass_context
def push(
    ctx: click.Context, ignore_push_failures: bool, quiet: bool, services: tuple[str, ...]
) -> None:
    """Push service images."""
    session, project = with_project(ctx, services)
    shown = discard if quiet else report
    session.run(lambda client: images.push_services(
        client, project, list(services or project.services), shown, ignore_push_failures
    ))  # fmt: skip
