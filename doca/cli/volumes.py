"""Volume commands: volume ls, create, rm."""

from __future__ import annotations

import click

from doca.cli import formatting
from doca.cli.runner import Session, for_each


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names.")
@click.pass_obj
def list_volumes(session: Session, quiet: bool) -> None:
    """List volumes."""
    found = session.run(lambda client: client.volumes.list())
    found.sort(key=lambda v: str(v.get("Name", "")))
    if quiet:
        for entry in found:
            click.echo(entry["Name"])
        return
    rows = ((str(v.get("Driver", "local")), str(v.get("Name", ""))) for v in found)
    click.echo(formatting.table(("DRIVER", "VOLUME NAME"), rows))


@volume.command("create")
@click.option("-l", "--label", "labels", multiple=True, metavar="K=V", help="Set a label.")
@click.argument("name", required=False)
@click.pass_obj
def create_volume(session: Session, labels: tuple[str, ...], name: str | None) -> None:
    """Create a volume and print its name."""
    label_map = dict(label.partition("=")[::2] for label in labels)
    created = session.run(lambda client: client.volumes.create(name, labels=label_map))
    click.echo(created["Name"])


@volume.command("rm")
@click.option("-f", "--force", is_flag=True, help="Remove even when in use.")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def remove_volumes(session: Session, force: bool, names: tuple[str, ...]) -> None:
    """Remove volumes."""

    for_each(session, names, lambda client, name: client.volumes.remove(name, force=force))


COMMANDS = (volume,)
