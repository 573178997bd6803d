"""Image commands: images."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import click

from doca.cli import formatting
from doca.cli.runner import Session

IMAGES_HEADER = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")


def image_rows(image: dict[str, Any], now: float) -> Iterator[tuple[str, ...]]:
    """One `docker images` row per tag of an image; an untagged image is <none> <none>."""
    references = [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
    common = (
        formatting.short_id(str(image.get("Id", ""))),
        formatting.time_ago(float(image.get("Created", 0)), now),
        formatting.human_size(float(image.get("Size", 0))),
    )
    if not references:
        yield ("<none>", "<none>", *common)
    for reference in references:
        yield (*formatting.split_repo_tag(reference), *common)


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show intermediate images too.")
@click.option("-q", "--quiet", is_flag=True, help="Only display image IDs.")
@click.pass_obj
def images(session: Session, show_all: bool, quiet: bool) -> None:
    """List images."""
    found = session.run(lambda client: client.images.list(all=show_all))
    found.sort(key=lambda image: float(image.get("Created", 0)), reverse=True)
    now = time.time()
    if quiet:
        ids = dict.fromkeys(formatting.short_id(str(image["Id"])) for image in found)
        for image_id in ids:
            click.echo(image_id)
        return
    rows = (row for image in found for row in image_rows(image, now))
    click.echo(formatting.table(IMAGES_HEADER, rows))


COMMANDS = (images,)
