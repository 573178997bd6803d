"""``doca compose stop|start|restart|kill|pause|unpause|rm``: they need only the project's
name (``-p`` alone works, as with Compose), then act on its containers."""

from __future__ import annotations

import click

from doca.compose import lifecycle
from doca.compose.group import compose, report, with_project_name

SERVICES = click.argument("services", nargs=-1)
TIMEOUT = click.option("-t", "--timeout", type=int, default=None,
                       help="Seconds to wait before killing the containers.")  # fmt: skip


@compose.command()
@TIMEOUT
@SERVICES
@click.pass_context
def stop(ctx: click.Context, timeout: int | None, services: tuple[str, ...]) -> None:
    """Stop services."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.stop(client, name, list(services), report, timeout))


@compose.command()
@SERVICES
@click.pass_context
def start(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Start services."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.start(client, name, list(services), report))


@compose.command()
@TIMEOUT
@click.option("--no-deps", is_flag=True, help="Don't restart dependent services.")
@SERVICES
@click.pass_context
def restart(ctx: click.Context, timeout: int | None, no_deps: bool,
            services: tuple[str, ...]) -> None:  # fmt: skip
    """Restart service containers."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.restart(client, name, list(services), report, timeout))


@compose.command()
@click.option("-s", "--signal", "signal_name", default="SIGKILL",
              help="SIGNAL to send to the container.")  # fmt: skip
@click.option("--remove-orphans", is_flag=True)
@SERVICES
@click.pass_context
def kill(ctx: click.Context, signal_name: str, remove_orphans: bool,
         services: tuple[str, ...]) -> None:  # fmt: skip
    """Force stop service containers."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.kill(client, name, list(services), report, signal_name))


@compose.command()
@SERVICES
@click.pass_context
def pause(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Pause services."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.pause(client, name, list(services), report))


@compose.command()
@SERVICES
@click.pass_context
def unpause(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Unpause services."""
    session, name, _ = with_project_name(ctx)
    session.run(lambda client: lifecycle.unpause(client, name, list(services), report))


@compose.command()
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal.")
@click.option("-s", "--stop", "stop_first", is_flag=True, help="Stop the containers first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@SERVICES
@click.pass_context
def rm(ctx: click.Context, force: bool, stop_first: bool, volumes: bool,
       services: tuple[str, ...]) -> None:  # fmt: skip
    """Remove stopped service containers."""
    session, name, _ = with_project_name(ctx)
    if stop_first:
        session.run(lambda client: lifecycle.stop(client, name, list(services), report))
    if not force and not click.confirm("Going to remove stopped containers. Continue?"):
        return
    removed = session.run(
        lambda client: lifecycle.remove_stopped(client, name, list(services), report, volumes)
    )
    if not removed:
        click.echo("No stopped containers", err=True)
