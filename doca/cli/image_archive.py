"""`doca load` and `doca save`: images from and to `docker save` archives, on files or on
stdin/stdout, as the docker CLI moves them."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from doca.cli.progress_display import live_display_wanted
from doca.cli.registry_commands import show_progress
from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import EngineClient


def _die(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


@contextlib.contextmanager
def _stdin_archive() -> Iterator[Path]:
    """stdin spooled to a file: the upload needs its length-independent chunks from a path."""
    with tempfile.TemporaryDirectory(prefix="doca-load-") as scratch:
        path = Path(scratch) / "archive.tar"
        with path.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        yield path


@click.command()
@click.option("-i", "--input", "source", default="", metavar="FILE",
              help="Read from tar archive file, instead of STDIN.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output.")
@click.pass_obj
def load(session: Session, source: str, quiet: bool) -> None:
    """Load an image from a tar archive or STDIN."""
    if not source and sys.stdin.isatty():
        _die("requested load from stdin, but stdin is empty")
    if source and not os.path.exists(source):
        _die(f"open {source}: no such file or directory")
    # Progress bars are for terminals; elsewhere the engine is asked for the summary only.
    summary_only = quiet or not sys.stdout.isatty()
    live = live_display_wanted(summary_only)

    def operation_on(path: Path) -> None:
        async def operation(client: EngineClient) -> None:
            await show_progress(client.images.load(path, quiet=summary_only), False, live)

        session.run(operation)

    if source:
        operation_on(Path(source))
    else:
        with _stdin_archive() as path:
            operation_on(path)


@click.command()
@click.option("-o", "--output", default="", metavar="FILE",
              help="Write to a file, instead of STDOUT.")  # fmt: skip
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.pass_obj
def save(session: Session, output: str, images: tuple[str, ...]) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    if not output and sys.stdout.isatty():
        _die("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if not output:

        async def to_stdout(client: EngineClient) -> None:
            async for chunk in client.images.save(list(images)):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

        session.run(to_stdout)
        return
    target = Path(output)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as error:
        _die(f"failed to save image: {error.strerror}: {directory}")
    # Written beside the target and renamed into place only when whole, as atomicwriter does.
    try:
        with os.fdopen(fd, "wb") as out:

            async def to_file(client: EngineClient) -> None:
                async for chunk in client.images.save(list(images)):
                    out.write(chunk)

            session.run(to_file)
        os.chmod(scratch, 0o600)
        os.replace(scratch, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)


COMMANDS = (load, save)
