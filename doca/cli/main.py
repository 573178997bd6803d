"""Entry point of the `doca` command: the click group, the engine host and context options,
and the translation of engine errors the commands let through."""

from __future__ import annotations

from typing import Any

import click

from doca.cli import (
    build,
    containers,
    contexts,
    engine_commands,
    images,
    inspection,
    networks,
    registry_commands,
    setup_rootless,
    system,
    volumes,
)
from doca.cli.credentials import credentials
from doca.cli.host_session import CliSession
from doca.cli.registry import registry
from doca.cli.runner import Session, fail
from doca.cli.trust import trust
from doca.client import EngineError
from doca.compose.commands import compose


class DocaGroup(click.Group):
    """Engine errors that escape a command print as the docker CLI prints them and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as error:
            session = ctx.find_object(Session)
            fail(error, session.host if session else "")


@click.group(cls=DocaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-H",
    "--host",
    metavar="HOST",
    default=None,
    help="Engine socket to connect to (default: $DOCKER_HOST, the current context, or "
    "unix:///run/doca/doca.sock).",
)
@click.option(
    "-c",
    "--context",
    metavar="NAME",
    default=None,
    help="Name of the context to use (default: $DOCKER_CONTEXT or `doca context use`).",
)
@click.version_option(
    None, "-v", "--version", package_name="doca", message="Doca version %(version)s",
    help="Print version information and quit.",
)  # fmt: skip
@click.pass_context
def cli(ctx: click.Context, host: str | None, context: str | None) -> None:
    """A client for Doca and other Docker-API engines."""
    ctx.obj = CliSession(host, context)


for command in (
    *containers.COMMANDS,
    *images.COMMANDS,
    *build.COMMANDS,
    *volumes.COMMANDS,
    *networks.COMMANDS,
    *system.COMMANDS,
    *engine_commands.COMMANDS,
    *contexts.COMMANDS,
    *registry_commands.COMMANDS,
    *inspection.COMMANDS,
):
    cli.add_command(command)
cli.add_command(registry)
cli.add_command(credentials)
cli.add_command(compose)
cli.add_command(trust)
cli.add_command(setup_rootless.setup)


def main() -> None:
    cli(prog_name="doca")
