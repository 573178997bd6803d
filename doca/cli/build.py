"""Build commands: build (the classic builder) and builder prune, printing what the docker CLI
prints when its output is not a terminal, and drawing the build's progress live on one."""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, NoReturn

import click

from doca.cli import build_flags as flags
from doca.cli import formatting
from doca.cli.build_output import registry_config, show_build, upload_line
from doca.cli.progress_display import LiveProgress, live_display_wanted
from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import EngineClient, EngineError, StreamError
from doca.client.build_context import (
    ARCHIVE_PEEK,
    STDIN,
    ContextError,
    is_archive,
    local_context,
    write_context,
    write_dockerfile_context,
)
from doca.client.build_options import BuildOptions

DANGLING_WARNING = (
    "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
)
ALL_CACHE_WARNING = "WARNING! This will remove all build cache. Are you sure you want to continue?"


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def write_build_context(out: BinaryIO, path: str, dockerfile: str, compress: bool) -> str:
    """Write the context of ``doca build PATH`` to ``out``, as the docker CLI makes it from a
    directory or from stdin (a tar as it is, or a lone Dockerfile); the Dockerfile's name in
    it ("" leaves the engine's default)."""
    if path == STDIN:
        head = sys.stdin.buffer.read(ARCHIVE_PEEK)
        if is_archive(head):
            out.write(head)
            shutil.copyfileobj(sys.stdin.buffer, out)
            return dockerfile
        if dockerfile:
            raise ContextError("unable to prepare context: ambiguous Dockerfile source: both "
                               "stdin and flag correspond to Dockerfiles")  # fmt: skip
        return write_dockerfile_context(out, head + sys.stdin.buffer.read())
    if not os.path.exists(path):
        raise ContextError(f'unable to prepare context: path "{path}" not found')
    context = local_context(path, dockerfile)
    stdin_dockerfile = sys.stdin.buffer.read() if context.dockerfile == STDIN else None
    return write_context(out, context, stdin_dockerfile, compress)


@click.command(cls=flags.GoBoolFlags)
@click.option("-t", "--tag", "tags", multiple=True, callback=flags.tags_callback,
              metavar="NAME[:TAG]", help="Name and optionally a tag of the image.")  # fmt: skip
@click.option("-f", "--file", "dockerfile", default="", metavar="FILE",
              help='The Dockerfile (default "PATH/Dockerfile"; "-": stdin).')  # fmt: skip
@click.option("--build-arg", "build_args", multiple=True, callback=flags.build_args_callback,
              metavar="K[=V]", help="Set a build-time variable.")  # fmt: skip
@click.option("--label", "labels", multiple=True, callback=flags.labels_callback,
              metavar="K[=V]", help="Set metadata for the image.")  # fmt: skip
@click.option("--target", default="", help="Set the target build stage to build.")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer base image.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID on success.")
@click.option("--rm/--no-rm", "remove", default=True,
              help="Remove intermediate containers after a successful build.")  # fmt: skip
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers.")
@click.option("--network", default="default", help="Networking mode of the RUN instructions.")
@click.option("--platform", default=lambda: os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
              help="Set the platform of the build.")  # fmt: skip
@click.option("--add-host", "extra_hosts", multiple=True, callback=flags.hosts_callback,
              metavar="HOST:IP", help="Add a custom host-to-IP mapping.")  # fmt: skip
@click.option("--shm-size", callback=flags.size_callback, help='Size of "/dev/shm".')
@click.option("-m", "--memory", callback=flags.size_callback, help="Memory limit of RUN steps.")
@click.option("--cache-from", multiple=True, callback=flags.list_callback,
              help="Images to consider as cache sources.")  # fmt: skip
@click.option("--compress", is_flag=True, help="Compress the build context using gzip.")
@click.option("--iidfile", default="", metavar="FILE", help="Write the image ID to the file.")
@click.argument("path", metavar="PATH | -")
@click.pass_obj
def build(
    session: Session, tags: list[str], dockerfile: str, build_args: dict[str, str | None],
    labels: dict[str, str], target: str, no_cache: bool, pull: bool, quiet: bool, remove: bool,
    force_rm: bool, network: str, platform: str, extra_hosts: list[str], shm_size: int,
    memory: int, cache_from: list[str], compress: bool, iidfile: str, path: str,
) -> None:  # fmt: skip
    """Build an image from a Dockerfile."""
    if path == STDIN and dockerfile == STDIN:
        _die("invalid argument: can't use stdin for both build context and dockerfile")
    if iidfile:
        try:
            Path(iidfile).unlink(missing_ok=True)
        except OSError as error:
            _die(f"Removing image ID file: {error.strerror}")
    # With -q, the progress and the output are kept, and shown only if the build fails.
    progress, output = io.StringIO(), io.StringIO()

    with tempfile.TemporaryDirectory(prefix="doca-build-") as scratch:
        archive = Path(scratch) / "context.tar"
        try:
            with archive.open("wb") as out:
                name = write_build_context(out, path, dockerfile, compress)
        except ContextError as error:
            _die(str(error))
        options = BuildOptions(
            tags=tags, dockerfile=name, build_args=build_args, labels=labels, target=target,
            no_cache=no_cache, pull=pull, remove=remove, force_remove=force_rm, quiet=quiet,
            network_mode=network, platform=platform, extra_hosts=extra_hosts,
            shm_size=shm_size, memory=memory, cache_from=cache_from,
        )  # fmt: skip
        write_progress = progress.write if quiet else _echo
        write_output = output.write if quiet else _echo
        write_progress(upload_line(archive.stat().st_size))
        auth = registry_config()

        live = live_display_wanted(quiet)

        async def operation(client: EngineClient) -> str:
            messages = client.images.build(archive, options, auth)
            if not live:
                return await show_build(messages, write_output)
            with LiveProgress() as display:
                return await show_build(messages, write_output, display)

        try:
            image_id = session.run(operation)
        except StreamError as error:
            if quiet:
                click.echo(progress.getvalue() + output.getvalue(), nl=False, err=True)
            click.echo(error.message, err=True)
            sys.exit(error.code or GENERAL_ERROR)
        except EngineError:
            if quiet:
                click.echo(progress.getvalue(), nl=False, err=True)
            raise
    if quiet:
        # The engine's quiet stream is the image ID and a newline: printed, and kept, as is.
        image_id = output.getvalue()
        click.echo(image_id, nl=False)
    if iidfile:
        if not image_id:
            _die(f"Server did not provide an image ID. Cannot write {iidfile}")
        Path(iidfile).write_text(image_id)


def _echo(text: str) -> None:
    click.echo(text, nl=False)


def _confirm(message: str) -> bool:
    """The docker CLI's prompt: ``y`` or ``Y`` goes on; anything else, or no input, does not."""
    click.echo(f"{message} [y/N] ", nl=False)
    return sys.stdin.readline().strip().lower() == "y"


@click.group()
def builder() -> None:
    """Manage builds."""


@builder.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True,
              help="Remove all unused build cache, not just dangling ones.")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def prune_builds(session: Session, prune_all: bool, force: bool) -> None:
    """Remove build cache."""
    if not force and not _confirm(ALL_CACHE_WARNING if prune_all else DANGLING_WARNING):
        return
    report = session.run(lambda client: client.images.prune_builds(all=prune_all))
    deleted = report.get("CachesDeleted") or []
    if deleted:
        click.echo("Deleted build cache objects:\n" + "".join(f"{entry}\n" for entry in deleted))
    reclaimed = formatting.human_size(float(report.get("SpaceReclaimed") or 0), 4)
    click.echo(f"Total reclaimed space: {reclaimed}")


builder.add_command(build, "build")

COMMANDS = (build, builder)
