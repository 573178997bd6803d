"""Image commands as the docker CLI has them: images, tag, rmi, history, image prune, image
inspect, and the `image` group (ls, rm, tag, history, inspect, prune, load, save, pull, push,
build)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from doca.cli import build, image_archive, image_format, prune, registry_commands
from doca.cli import output_format as fmt
from doca.cli.build_flags import GoBoolFlags
from doca.cli.container_command import DockerCommand
from doca.cli.filter_flags import filter_flag
from doca.cli.image_format import render_history, render_images
from doca.cli.inspection import FORMAT_HELP, inspect_names
from doca.cli.runner import GENERAL_ERROR, Session, print_error
from doca.client import EngineClient, EngineError, NotFound
from doca.credhelper import dockerconfig

FORMAT_FLAG_HELP = "Format output: 'table', 'table TEMPLATE', 'json' or a Go template."
# `docker images NAME` with one of these names probably meant `docker image NAME`.
SUBCOMMAND_NAMES = ("build", "history", "import", "inspect", "list", "load", "ls", "prune",
                    "pull", "push", "rm", "save", "tag")  # fmt: skip
ALL_IMAGES_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them."
    "\nAre you sure you want to continue?"
)
DANGLING_WARNING = (
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
)


def image_rows(image: dict[str, Any], now: float) -> Iterator[tuple[str, ...]]:
    """The default `docker images` columns of one image, a row per repository and tag."""
    for row in image_format.image_rows(image, False, False, True, now):
        yield (row.Repository(), row.Tag(), row.ID(), row.CreatedSince(), row.Size())


def _list_images(
    ctx: click.Context, show_all: bool, quiet: bool, no_trunc: bool, digests: bool,
    output_format: str, filters: dict[str, list[str]], repository: str | None,
) -> None:  # fmt: skip
    session: Session = ctx.obj
    wanted = dict(filters)
    if repository:
        wanted.setdefault("reference", []).append(repository)
    found = session.run(lambda client: client.images.list(all=show_all, filters=wanted or None))
    found.sort(key=lambda image: float(image.get("Created") or 0), reverse=True)
    if not output_format and not quiet:
        output_format = configured_format("imagesFormat")
    try:
        text = render_images(found, output_format or fmt.TABLE, quiet, digests, no_trunc)
    except fmt.FormatError as error:
        fmt.fail(error)
    click.echo(text, nl=False)
    if repository in SUBCOMMAND_NAMES and not found and ctx.info_name == "images":
        click.echo(
            f'\nNo images found matching "{repository}": did you mean "doca image {repository}"?',
            err=True,
        )


def configured_format(key: str) -> str:
    """A default ``--format`` from the docker CLI's config.json (``imagesFormat``)."""
    try:
        return str(dockerconfig.load_config().data.get(key) or "")
    except dockerconfig.ConfigError:
        return ""


def _images_command(name: str) -> click.Command:
    @click.command(name, cls=DockerCommand, docker_usage="[OPTIONS] [REPOSITORY[:TAG]]")
    @click.option("-a", "--all", "show_all", is_flag=True, help="Show all images.")
    @click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
    @click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
    @click.option("--digests", is_flag=True, help="Show digests.")
    @click.option("--format", "output_format", default="", help=FORMAT_FLAG_HELP)
    @filter_flag()
    @click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
    @click.pass_context
    def list_images(ctx: click.Context, **options: Any) -> None:
        """List images."""
        _list_images(ctx, **options)

    return list_images


images = _images_command("images")


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
@click.pass_obj
def tag(session: Session, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    try:
        registry_commands.parse_reference(source.partition("@")[0] or source)
    except ValueError as error:
        _die(f'Error parsing reference: "{source}" is not a valid repository/tag: {error}')
    try:
        ref = registry_commands.parse_reference(target)
    except ValueError as error:
        _die(f'Error parsing reference: "{target}" is not a valid repository/tag: {error}')
    if ref.digest:
        _die("refusing to create a tag with a digest reference")
    session.run(lambda client: client.images.tag(source, ref.name, ref.tag or "latest"))


def _die(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def _rmi_command(name: str) -> click.Command:
    @click.command(name)
    @click.option("-f", "--force", is_flag=True, help="Force removal of the image.")
    @click.option("--no-prune", is_flag=True, help="Do not delete untagged parents.")
    @click.argument("names", nargs=-1, required=True, metavar="IMAGE...")
    @click.pass_obj
    def remove_images(
        session: Session, force: bool, no_prune: bool, names: tuple[str, ...]
    ) -> None:
        """Remove one or more images."""

        async def operation(client: EngineClient) -> tuple[list[EngineError], bool]:
            errors: list[EngineError] = []
            fatal = False
            for image in names:
                try:
                    report = await client.images.remove(image, force=force, noprune=no_prune)
                except EngineError as error:
                    if error.status == 0:
                        raise
                    fatal = fatal or not isinstance(error, NotFound)
                    errors.append(error)
                    continue
                for entry in report:
                    if entry.get("Deleted"):
                        click.echo(f"Deleted: {entry['Deleted']}")
                    else:
                        click.echo(f"Untagged: {entry.get('Untagged', '')}")
            return errors, fatal

        errors, fatal = session.run(operation)
        for error in errors:
            print_error(error, session.host)
        # With --force, images that are not there are no failure.
        if errors and (not force or fatal):
            sys.exit(GENERAL_ERROR)

    return remove_images


rmi = _rmi_command("rmi")


@click.command(cls=GoBoolFlags)
@click.option("-H", "--human/--no-human", default=True,
              help="Print sizes and dates in human readable format.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("--format", "output_format", default="", help=FORMAT_FLAG_HELP)
@click.argument("image")
@click.pass_obj
def history(
    session: Session, human: bool, quiet: bool, no_trunc: bool, output_format: str, image: str
) -> None:
    """Show the history of an image."""
    entries = session.run(lambda client: client.images.history(image))
    try:
        click.echo(render_history(entries, output_format, quiet, human, no_trunc), nl=False)
    except fmt.FormatError as error:
        fmt.fail(error)


@click.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True,
              help="Remove all unused images, not just dangling ones.")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@filter_flag("--filter")
@click.pass_obj
def prune_images(
    session: Session, prune_all: bool, force: bool, filters: dict[str, list[str]]
) -> None:
    """Remove unused images."""
    if not force and not prune.confirm(ALL_IMAGES_WARNING if prune_all else DANGLING_WARNING):
        return
    space, output = session.run(lambda client: prune.prune_images(client, prune_all, filters))
    if output:
        click.echo(output)
    click.echo(prune.total_line(space))


@click.command("inspect")
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...")
@click.pass_obj
def inspect_images(session: Session, output_format: str, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more images."""
    inspect_names(session, names, lambda client, name: client.images.inspect(name), output_format)


@click.group()
def image() -> None:
    """Manage images."""


for command, aliases in (
    (_images_command("ls"), ("list",)),
    (_rmi_command("rm"), ("remove", "rmi")),
    (tag, ()),
    (history, ()),
    (inspect_images, ()),
    (prune_images, ()),
    (image_archive.load, ()),
    (image_archive.save, ()),
    (registry_commands.pull, ()),
    (registry_commands.push, ()),
    (build.build, ()),
):
    for name in (command.name, *aliases):
        image.add_command(command, name)


COMMANDS = (images, tag, rmi, history, image_archive.load, image_archive.save, image)
