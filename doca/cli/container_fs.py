"""A container's filesystem: `diff`, `commit` and `export`."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import click

from doca.cli.container_attach import die
from doca.cli.container_command import OPTIONS_FIRST, DockerCommand
from doca.cli.container_terminal import is_terminal
from doca.cli.registry_commands import DEFAULT_TAG, parse_reference
from doca.cli.runner import Session
from doca.client import EngineClient

CHANGE_KINDS = {0: "C", 1: "A", 2: "D"}


@click.command(cls=DockerCommand, docker_usage="CONTAINER")
@click.argument("container")
@click.pass_obj
def diff(session: Session, container: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    if not container:
        die("Container name cannot be empty")
    for change in session.run(lambda client: client.containers.changes(container)):
        click.echo(f"{CHANGE_KINDS.get(int(change.get('Kind', 0)), '?')} {change.get('Path', '')}")


def commit_reference(text: str) -> tuple[str, str]:
    """(repository, tag) as the docker client sends a commit's REPOSITORY[:TAG]: the normalized
    name, ``latest`` when no tag is given; ValueError as the docker CLI words it."""
    if not text:
        return "", ""
    reference = parse_reference(text)
    if reference.digest:
        raise ValueError("refusing to create a tag with a digest reference")
    return reference.name, reference.tag or DEFAULT_TAG


@click.command(
    cls=DockerCommand,
    context_settings=OPTIONS_FIRST,
    docker_usage="[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
)
@click.option("-a", "--author", default="", help='Author (e.g., "Jane Doe <jane@example.com>").')
@click.option("-c", "--change", "changes", multiple=True, help="Apply a Dockerfile instruction.")
@click.option("-m", "--message", default="", help="Commit message.")
@click.option("-p/--no-pause", "--pause", "pause", default=True, help="Pause during the commit.")
@click.argument("container")
@click.argument("reference", required=False, default="")
@click.pass_obj
def commit(
    session: Session,
    author: str,
    changes: tuple[str, ...],
    message: str,
    pause: bool,
    container: str,
    reference: str,
) -> None:
    """Create a new image from a container's changes; print its ID."""
    try:
        repo, tag = commit_reference(reference)
    except ValueError as error:
        die(str(error))
    image_id = session.run(
        lambda client: client.containers.commit(
            container, repo, tag, message, author, list(changes), pause
        )
    )
    click.echo(image_id)


async def _write_export(client: EngineClient, container: str, fd: int) -> None:
    async for chunk in client.containers.export(container):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


@click.command(cls=DockerCommand, docker_usage="[OPTIONS] CONTAINER")
@click.option("-o", "--output", help="Write to a file, instead of STDOUT.")
@click.argument("container")
@click.pass_obj
def export(session: Session, output: str | None, container: str) -> None:
    """Export a container's filesystem as a tar archive."""
    if not output:
        if is_terminal(sys.stdout.fileno()):
            die("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        session.run(lambda client: _write_export(client, container, sys.stdout.fileno()))
        return
    # Written next to its destination and renamed into place, as the docker CLI's atomic
    # writer does: a failed export leaves no partial file behind.
    target = os.path.abspath(output)
    try:
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(target))
    except OSError as error:
        die(f"failed to export container: {error.strerror}: {output}")
    try:
        with os.fdopen(fd, "wb", closefd=True) as out:
            session.run(lambda client: _write_export(client, container, out.fileno()))
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
