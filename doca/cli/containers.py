"""Container commands: ps, stop, rm, logs here; the others in the ``container_*`` modules; and
the `container` group that names them all as the docker CLI does (`doca container ls` …)."""

from __future__ import annotations

import click

from doca.cli import inspection
from doca.cli.container_attach import attach, start
from doca.cli.container_command import OPTIONS_CONTAINERS_USAGE, DockerCommand, GoInt
from doca.cli.container_config import create_config
from doca.cli.container_cp import cp
from doca.cli.container_exec import exec_command
from doca.cli.container_fs import commit, diff, export
from doca.cli.container_lifecycle import kill, pause, prune, rename, restart, unpause, update, wait
from doca.cli.container_list import ps
from doca.cli.container_run import create, run
from doca.cli.container_stats import stats, top
from doca.cli.container_streams import write_output
from doca.cli.networks import port
from doca.cli.runner import Session, for_each
from doca.client import EngineClient

__all__ = ["COMMANDS", "create_config"]


async def _print_logs(
    client: EngineClient, container: str, follow: bool, tail: int | None, timestamps: bool
) -> None:
    async for stream, chunk in client.containers.logs(
        container, follow=follow, tail=tail, timestamps=timestamps
    ):
        write_output(stream, chunk)


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-s", "--signal", "signal_name", help="Signal to send to the container.")
@click.option("-t", "--timeout", type=GoInt(), help="Seconds to wait before killing the container.")
@click.option("--time", "old_timeout", type=GoInt(), hidden=True, help="Deprecated: use --timeout.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(
    session: Session,
    signal_name: str | None,
    timeout: int | None,
    old_timeout: int | None,
    containers: tuple[str, ...],
) -> None:
    """Stop one or more running containers."""
    if timeout is not None and old_timeout is not None:
        raise click.UsageError("conflicting options: cannot specify both --timeout and --time")
    seconds = timeout if timeout is not None else old_timeout
    for_each(
        session,
        containers,
        lambda client, c: client.containers.stop(c, timeout=seconds, signal=signal_name),
    )


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(session: Session, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    for_each(
        session,
        containers,
        lambda client, c: client.containers.remove(c, force=force, volumes=volumes),
    )


@click.command(cls=DockerCommand, docker_usage="[OPTIONS] CONTAINER")
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-n", "--tail", default="all", help='Lines to show from the end ("all").')
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.argument("container")
@click.pass_obj
def logs(session: Session, follow: bool, tail: str, timestamps: bool, container: str) -> None:
    """Fetch the logs of a container."""
    lines = None if tail == "all" else int(tail) if tail.lstrip("-").isdigit() else None
    session.run(lambda client: _print_logs(client, container, follow, lines, timestamps))


@click.command("inspect", cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-s", "--size", is_flag=True, hidden=True, help="Display total file sizes.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def inspect_containers(ctx: click.Context, size: bool, containers: tuple[str, ...]) -> None:
    """Display detailed information on one or more containers."""
    ctx.invoke(inspection.inspect, kind="container", names=containers)


@click.group()
def container() -> None:
    """Manage containers."""


# Every command of the `container` group, under each name the docker CLI gives it.
CONTAINER_GROUP: dict[str, click.Command] = {
    "attach": attach, "commit": commit, "cp": cp, "create": create, "diff": diff,
    "exec": exec_command, "export": export, "inspect": inspect_containers, "kill": kill,
    "logs": logs, "ls": ps, "list": ps, "ps": ps, "pause": pause, "port": port,
    "prune": prune, "rename": rename, "restart": restart, "rm": rm, "remove": rm, "run": run,
    "start": start, "stats": stats, "stop": stop, "top": top, "unpause": unpause,
    "update": update, "wait": wait,
}  # fmt: skip
for _name, _command in CONTAINER_GROUP.items():
    container.add_command(_command, _name)

COMMANDS = (
    ps, run, create, start, stop, restart, kill, pause, unpause, attach, exec_command, logs,
    rm, cp, wait, rename, top, stats, diff, commit, export, update, container,
)  # fmt: skip
