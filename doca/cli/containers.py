"""Container commands: ps, run, start, stop, rm, logs, exec."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import orjson

from doca.cli import formatting
from doca.cli.publish import apply_publish
from doca.cli.runner import ENGINE_ERROR, Session, fail, for_each, start_error_code
from doca.client import EngineClient, EngineError

PS_HEADER = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")


def ps_row(container: dict[str, Any], now: float) -> tuple[str, ...]:
    """One `docker ps` table row for an entry of the engine's container list."""
    return (
        formatting.short_id(str(container.get("Id", ""))),
        str(container.get("Image", "")),
        formatting.quoted_command(str(container.get("Command", ""))),
        formatting.time_ago(float(container.get("Created", 0)), now),
        str(container.get("Status", "")),
        formatting.ports(container.get("Ports") or []),
        formatting.container_names(container.get("Names") or []),
    )


def ps_json(container: dict[str, Any], now: float) -> dict[str, str]:
    """The keys `docker ps --format json` prints for a container."""
    labels = container.get("Labels") or {}
    created = float(container.get("Created", 0))
    return {
        "Command": formatting.quoted_command(str(container.get("Command", ""))),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
        "ID": formatting.short_id(str(container.get("Id", ""))),
        "Image": str(container.get("Image", "")),
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "Names": formatting.container_names(container.get("Names") or []),
        "Ports": formatting.ports(container.get("Ports") or []),
        "RunningFor": formatting.time_ago(created, now),
        "State": str(container.get("State", "")),
        "Status": str(container.get("Status", "")),
    }


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def ps(session: Session, show_all: bool, quiet: bool, output_format: str) -> None:
    """List containers."""
    rows = session.run(lambda client: client.containers.list(all=show_all))
    now = time.time()
    if quiet:
        for container in rows:
            click.echo(formatting.short_id(str(container["Id"])))
    elif output_format == "json":
        for container in rows:
            click.echo(orjson.dumps(ps_json(container, now)).decode())
    else:
        click.echo(formatting.table(PS_HEADER, (ps_row(c, now) for c in rows)))


def _write(stream: int, chunk: bytes) -> None:
    out = sys.stderr.buffer if stream == 2 else sys.stdout.buffer
    out.write(chunk)
    out.flush()


async def _print_logs(client: EngineClient, container: str, follow: bool) -> None:
    async for stream, chunk in client.containers.logs(container, follow=follow):
        _write(stream, chunk)


def apply_network(
    config: dict[str, Any], network: str | None, aliases: tuple[str, ...], ip: str | None
) -> None:
    """``--network``, ``--network-alias`` and ``--ip`` as the docker CLI sends them."""
    if not network:
        if aliases or ip:
            raise click.BadParameter("--network-alias and --ip need --network")
        return
    config["HostConfig"]["NetworkMode"] = network
    endpoint: dict[str, Any] = {}
    if aliases:
        endpoint["Aliases"] = list(aliases)
    if ip:
        endpoint["IPAMConfig"] = {"IPv4Address": ip}
    config["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}


def create_config(image: str, command: tuple[str, ...], env: tuple[str, ...]) -> dict[str, Any]:
    """The ContainerCreate body for `doca run IMAGE [CMD...]`."""
    return {
        "Image": image,
        "Cmd": list(command) or None,
        "Env": list(env),
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": {},
    }


# Everything after IMAGE is the container's command, options included.
@click.command(context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run in the background, print the ID.")
@click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits.")
@click.option("--name", help="Name of the container.")
@click.option("-e", "--env", multiple=True, metavar="K=V", help="Set an environment variable.")
@click.option(
    "-p", "--publish", multiple=True, metavar="[IP:][HOST:]PORT[/PROTO]", help="Publish a port."
)
@click.option("-P", "--publish-all", is_flag=True, help="Publish every exposed port.")
@click.option("--network", help="Connect to this network (bridge, host, none, or a name).")
@click.option("--network-alias", multiple=True, help="Another DNS name on the network.")
@click.option("--ip", help="IPv4 address on the network.")
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(
    session: Session,
    detach: bool,
    remove: bool,
    name: str | None,
    env: tuple[str, ...],
    publish: tuple[str, ...],
    publish_all: bool,
    network: str | None,
    network_alias: tuple[str, ...],
    ip: str | None,
    image: str,
    command: tuple[str, ...],
) -> None:
    """Create and start a container; attached, print its output and exit with its code."""
    config = create_config(image, command, env)
    apply_publish(config, publish, publish_all)
    apply_network(config, network, network_alias, ip)
    if detach and remove:
        config["HostConfig"]["AutoRemove"] = True

    async def operation(client: EngineClient) -> int:
        try:
            container = await client.containers.create(config, name=name)
        except EngineError as error:
            fail(error, session.host, ENGINE_ERROR)
        try:
            await client.containers.start(container)
        except EngineError as error:
            if remove:
                await client.containers.remove(container, force=True)
            fail(error, session.host, start_error_code(error.message))
        if detach:
            click.echo(container)
            return 0
        try:
            await _print_logs(client, container, follow=True)
            code = await client.containers.wait(container)
            if remove:
                await client.containers.remove(container, force=True)
        except EngineError as error:
            fail(error, session.host, ENGINE_ERROR)
        return code

    sys.exit(session.run(operation))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(session: Session, containers: tuple[str, ...]) -> None:
    """Start stopped containers."""
    for_each(session, containers, lambda client, c: client.containers.start(c))


@click.command()
@click.option("-t", "--time", "timeout", type=int, help="Seconds to wait before killing.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(session: Session, timeout: int | None, containers: tuple[str, ...]) -> None:
    """Stop running containers."""
    for_each(session, containers, lambda client, c: client.containers.stop(c, timeout=timeout))


@click.command()
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(session: Session, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove containers."""
    for_each(
        session,
        containers,
        lambda client, c: client.containers.remove(c, force=force, volumes=volumes),
    )


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Follow the output.")
@click.argument("container")
@click.pass_obj
def logs(session: Session, follow: bool, container: str) -> None:
    """Print a container's output."""
    session.run(lambda client: _print_logs(client, container, follow))


# Everything after CONTAINER is the command, options included.
@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-e", "--env", multiple=True, metavar="K=V", help="Set an environment variable.")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("-u", "--user", help="User name or UID[:GID] to run as.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_command(
    session: Session,
    env: tuple[str, ...],
    workdir: str | None,
    user: str | None,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Run a command in a running container; print its output and exit with its code."""

    async def operation(client: EngineClient) -> int:
        containers = client.containers
        exec_id = await containers.create_exec(container, list(command), list(env), workdir, user)
        async for stream, chunk in containers.start_exec(exec_id):
            _write(stream, chunk)
        return int((await containers.inspect_exec(exec_id)).get("ExitCode") or 0)

    sys.exit(session.run(operation))


COMMANDS = (ps, run, start, stop, rm, logs, exec_command)
