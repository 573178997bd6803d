"""`ps` (`container ls`): the engine's containers with the docker CLI's flags — all, filters,
last N, sizes — in its table, ``--format`` template, ``json``, ``raw`` or ``-q`` forms, and the
``psFormat`` of config.json when no format is given."""

from __future__ import annotations

import click

from doca.cli import ps_format
from doca.cli.container_command import DockerCommand
from doca.cli.filter_flags import filter_flag
from doca.cli.images import configured_format
from doca.cli.output_format import FormatError, fail
from doca.cli.runner import Session

FORMAT_HELP = ("Format output using a custom template: 'table', 'table TEMPLATE', 'json' or "
               "'TEMPLATE'.")  # fmt: skip


@click.command(cls=DockerCommand, docker_usage="[OPTIONS]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers.")
@filter_flag()
@click.option("--format", "output_format", default="", help=FORMAT_HELP)
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers.")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes.")
@click.pass_obj
def ps(
    session: Session, show_all: bool, filters: dict[str, list[str]], output_format: str,
    last: int, latest: bool, no_trunc: bool, quiet: bool, size: bool,
) -> None:  # fmt: skip
    """List containers."""
    if not output_format and not quiet:
        output_format = configured_format("psFormat")
    if output_format and quiet and output_format not in ("table", "raw"):
        click.echo(ps_format.FORMAT_AND_QUIET_WARNING, err=True)
    try:
        # As the docker CLI: a template that uses .Size asks the engine for sizes.
        size = size or ps_format.wants_size(output_format, quiet)
    except FormatError as error:
        fail(error)
    limit = 1 if latest else last
    rows = session.run(lambda client: client.containers.list(
        all=show_all or limit > 0, filters=filters, limit=limit if limit > 0 else None,
        size=size,
    ))  # fmt: skip
    try:
        text = ps_format.render(rows, output_format, quiet, no_trunc, size and not quiet)
    except FormatError as error:
        fail(error)
    click.echo(text, nl=False)
