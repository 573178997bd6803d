"""``doca compose`` as a docker CLI plugin: ``docker compose …`` runs Doca's Compose.

The docker CLI finds ``docker-compose`` in ``$DOCKER_CONFIG/cli-plugins`` (or the system's
plugin directories), asks it for its metadata (``docker-compose docker-cli-plugin-metadata``),
then runs it with its own arguments: the global flags it was given, ``compose``, and the rest.
``main`` answers both; ``doca compose plugin install`` puts a link to it in place."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import click

from doca.compose.errors import ComposeError
from doca.compose.group import compose

METADATA_COMMAND = "docker-cli-plugin-metadata"
PLUGIN_NAME = "docker-compose"
ENTRY_POINT = "doca-compose-plugin"
# The docker CLI's global flags that take a value, and those Doca has no use for.
_VALUED = {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level", "--tlscacert",
           "--tlscert", "--tlskey"}  # fmt: skip
_IGNORED = {"-D", "--debug", "--tls", "--tlsverify", "-l", "--log-level", "--tlscacert",
            "--tlscert", "--tlskey"}  # fmt: skip


def version() -> str:
    try:
        return package_version("doca")
    except PackageNotFoundError:
        return "0.0.0"


def metadata() -> dict[str, str]:
    return {"SchemaVersion": "0.1.0", "Vendor": "Doca", "Version": f"v{version()}",
            "ShortDescription": "Docker Compose (Doca)"}  # fmt: skip


def doca_arguments(argv: list[str]) -> list[str]:
    """The arguments the docker CLI gave its plugin, as ``doca`` takes them: the global flags
    Doca knows (``-H``, ``--context``), ``--config`` turned into DOCKER_CONFIG, the others
    dropped; ``compose`` and what follows kept as they are."""
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "compose":
            return [*out, *argv[index:]]
        name, has_value, value = token.partition("=")
        if name in _VALUED and not has_value:
            index += 1
            value = argv[index] if index < len(argv) else ""
        index += 1
        if name == "--config":
            os.environ["DOCKER_CONFIG"] = value
        elif name in ("-c", "--context"):
            out += ["--context", value]
        elif name in ("-H", "--host"):
            out += ["--host", value]
        elif name not in _IGNORED:
            raise ComposeError(f"unknown flag: {token}")
    return [*out, "compose"]


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == [METADATA_COMMAND]:
        print(json.dumps(metadata(), indent=2))
        return
    # The CLI's main module registers this package's commands: imported here, not above.
    from doca.cli.main import cli

    try:
        arguments = doca_arguments(argv)
    except ComposeError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    cli.main(arguments, prog_name="docker")


def plugins_dir() -> Path:
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(config) / "cli-plugins"


@compose.group()
def plugin() -> None:
    """Make `docker compose` run Doca's Compose."""


@plugin.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Plugin directory (default: $DOCKER_CONFIG/cli-plugins).")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Replace a docker-compose plugin already there.")
def install(directory: Path | None, force: bool) -> None:
    """Link docker-compose in the docker CLI's plugin directory to Doca's Compose."""
    target = (directory or plugins_dir()) / PLUGIN_NAME
    program = Path(sys.executable).parent / ENTRY_POINT
    if not program.exists():
        raise ComposeError(f"{program} is missing: is Doca installed with its entry points?")
    if (target.exists() or target.is_symlink()) and not force:
        if target.is_symlink() and target.resolve() == program.resolve():
            click.echo(f"{target} already runs Doca's Compose")
            return
        raise ComposeError(f"{target} exists: use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(program)
    click.echo(f"docker compose now runs Doca's Compose ({target} -> {program})")


@plugin.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Plugin directory (default: $DOCKER_CONFIG/cli-plugins).")  # fmt: skip
def uninstall(directory: Path | None) -> None:
    """Remove the link, if it is Doca's."""
    target = (directory or plugins_dir()) / PLUGIN_NAME
    program = Path(sys.executable).parent / ENTRY_POINT
    if not target.is_symlink() or target.resolve() != program.resolve():
        raise ComposeError(f"{target} is not Doca's Compose plugin")
    target.unlink()
    click.echo(f"removed {target}")


@compose.command(name="version")
@click.option("--short", is_flag=True, help="Show only the version number.")
@click.option("-f", "--format", "output", type=click.Choice(["pretty", "json"]), default="pretty")
def compose_version(short: bool, output: str) -> None:
    """Show the Compose version information."""
    number = f"v{version()}"
    if short:
        click.echo(number.lstrip("v"))
    elif output == "json":
        click.echo(json.dumps({"version": number}))
    else:
        click.echo(f"Doca Compose version {number}")
