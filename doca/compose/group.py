"""The ``doca compose`` group: its global options, how a command gets the project (or just its
name), and how errors end a command. The commands live in the ``commands*`` modules."""

from __future__ import annotations

import sys
from typing import Any

import click

from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import StreamError
from doca.compose.errors import ComposeError
from doca.compose.loader import LoadOptions, load_project
from doca.compose.project import Project


def report(line: str) -> None:
    """A progress line (`` Container x  Started``), on stderr as Compose writes them."""
    click.echo(line, err=True)


def warn(line: str) -> None:
    click.echo(f"WARN[0000] {line}", err=True)


def output(text: str) -> None:
    click.echo(text, nl=False)


def discard(_text: str) -> None:
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
        env_files=list(env_files), profiles=list(profiles), warn=warn,
    ))  # fmt: skip


def with_project(ctx: click.Context, targets: tuple[str, ...] = ()) -> tuple[Session, Project]:
    """The session and the loaded project; ``targets`` are services named on the command
    line (enabled whatever their profiles)."""
    session, options = ctx.obj
    options.targets = list(targets)
    return session, load_project(options)


def with_project_name(ctx: click.Context) -> tuple[Session, str, Project | None]:
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
