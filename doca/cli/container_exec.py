"""`exec`: a command in a running container, attached (``-i``, ``-t``) or detached (``-d``), with
the exit code of the command."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from doca.cli.container_attach import ESCAPE_MESSAGE, check_tty, detach_key_bytes, die
from doca.cli.container_command import OPTIONS_FIRST, DockerCommand
from doca.cli.container_keyvalues import read_env
from doca.cli.container_streams import Session as StreamSession
from doca.cli.container_streams import stream_session
from doca.cli.container_terminal import is_terminal, terminal_size
from doca.cli.runner import Session
from doca.client import EngineClient


def exec_config(
    interactive: bool,
    console_size: tuple[int, int] | None,
    detach: bool,
    privileged: bool,
    detach_keys: str,
) -> dict[str, Any]:
    """The ExecConfig keys beyond Cmd, Env, WorkingDir and User (parseExec of the docker CLI):
    attached to everything unless detached; a TTY of ``console_size`` when there is one."""
    options: dict[str, Any] = {
        "AttachStdin": interactive and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "Tty": console_size is not None,
        "Privileged": privileged,
        "DetachKeys": detach_keys,
    }
    if console_size is not None:
        options["ConsoleSize"] = list(console_size)
    return options


@click.command(
    "exec",
    cls=DockerCommand,
    context_settings=OPTIONS_FIRST,
    docker_usage="[OPTIONS] CONTAINER COMMAND [ARG...]",
)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background.")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching.")
@click.option("-e", "--env", multiple=True, metavar="K=V", help="Set environment variables.")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables.")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached.")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY.")
@click.option("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>]).")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_command(
    session: Session,
    detach: bool,
    detach_keys: str,
    env: tuple[str, ...],
    env_file: tuple[str, ...],
    interactive: bool,
    privileged: bool,
    tty: bool,
    user: str | None,
    workdir: str | None,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container; attached, exit with its code."""
    try:
        environment = read_env(env_file, env, os.environ)
    except ValueError as error:
        die(str(error))
    console = terminal_size() if tty else None
    options = exec_config(interactive, console, detach, privileged, detach_keys)

    async def operation(client: EngineClient) -> int:
        # As the docker CLI: "no such container" before the TTY check, and both before an
        # exec is made that nothing would start.
        await client.containers.inspect(container)
        if not detach:
            check_tty(options["AttachStdin"], tty)
        return await run_exec(client, container, list(command), environment, workdir, user,
                              options)  # fmt: skip

    sys.exit(session.run(operation))


async def run_exec(
    client: EngineClient,
    container: str,
    command: list[str],
    environment: list[str],
    workdir: str | None,
    user: str | None,
    options: dict[str, Any],
) -> int:
    """Create the exec (``options`` from ``exec_config``) and start it: detached, 0 at once;
    attached, its streams until it ends, then its exit code."""
    containers = client.containers
    tty, interactive = bool(options["Tty"]), bool(options["AttachStdin"])
    exec_id = await containers.create_exec(container, command, environment, workdir, user,
                                           **options)  # fmt: skip
    if not options["AttachStdout"]:
        await containers.start_exec_detached(exec_id, tty)
        return 0
    session = StreamSession(interactive, tty, detach_key_bytes(options["DetachKeys"]))
    if tty and is_terminal(sys.stdin.fileno()):
        session.resize = lambda h, w: containers.resize_exec(exec_id, h, w)
    console = tuple(options["ConsoleSize"]) if "ConsoleSize" in options else None
    async with containers.start_exec_attached(exec_id, tty, console) as hijacked:
        if await stream_session(hijacked, session):
            die(ESCAPE_MESSAGE)
    return int((await containers.inspect_exec(exec_id)).get("ExitCode") or 0)
