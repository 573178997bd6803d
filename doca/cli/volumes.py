"""Volume commands: volume ls, create, inspect, rm, prune, with the docker CLI's output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from doca.cli import formatting, prune
from doca.cli import output_format as fmt
from doca.cli.filter_flags import filter_flag
from doca.cli.inspection import FORMAT_HELP, inspect_names
from doca.cli.runner import Session, for_each
from doca.cli.template_values import GoStruct
from doca.client import EngineClient

TABLE = "table {{.Driver}}\t{{.Name}}"
HEADER = {
    "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
    "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE", "Status": "STATUS",
}  # fmt: skip
UNUSED_WARNING = (
    "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)
ALL_WARNING = (
    "WARNING! This will remove all local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def volume_format(source: str, quiet: bool) -> str:
    if source in ("", fmt.TABLE):
        return "{{.Name}}" if quiet else TABLE
    if source == fmt.RAW:
        return "name: {{.Name}}" if quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    return source


class VolumeContext(fmt.FormatterContext):
    """A volume as `docker volume ls` templates see it (formatter.volumeContext)."""

    go_type = "*formatter.volumeContext"

    def __init__(self, volume: Mapping[str, Any]) -> None:
        self.v = volume

    def _usage(self) -> Mapping[str, Any] | None:
        usage = self.v.get("UsageData")
        return usage if isinstance(usage, Mapping) else None

    def Name(self) -> str:
        return str(self.v.get("Name") or "")

    def Driver(self) -> str:
        return str(self.v.get("Driver") or "")

    def Scope(self) -> str:
        return str(self.v.get("Scope") or "")

    def Mountpoint(self) -> str:
        return str(self.v.get("Mountpoint") or "")

    def Labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in (self.v.get("Labels") or {}).items())

    def Label(self, name: str) -> str:
        return str((self.v.get("Labels") or {}).get(name, ""))

    def Links(self) -> str:
        usage = self._usage()
        return "N/A" if usage is None else str(usage.get("RefCount", 0))

    def Size(self) -> str:
        usage = self._usage()
        return "N/A" if usage is None else formatting.human_size(usage.get("Size", 0), 4)

    def Group(self) -> str:
        return "N/A"

    def Availability(self) -> str:
        return "N/A"

    def Status(self) -> str:
        return "N/A"


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names.")
@click.option("--format", "output_format", default="", help=fmt.FORMAT_HELP)
@filter_flag()
@click.pass_obj
def list_volumes(
    session: Session, quiet: bool, output_format: str, filters: dict[str, list[str]]
) -> None:
    """List volumes."""
    found = session.run(lambda client: client.volumes.list(filters or None))
    found.sort(key=lambda v: str(v.get("Name", "")))
    rows = [VolumeContext(entry) for entry in found]
    fmt.echo(volume_format(output_format, quiet), rows, HEADER)


@volume.command("create")
@click.option("-d", "--driver", default="local", help="Specify volume driver name.")
@click.option("-l", "--label", "labels", multiple=True, metavar="K=V", help="Set a label.")
@click.option("-o", "--opt", "options", multiple=True, metavar="K=V", help="Driver options.")
@click.option("--name", "name_flag", default="", help="Specify volume name.")
@click.argument("name", required=False)
@click.pass_obj
def create_volume(
    session: Session, driver: str, labels: tuple[str, ...], options: tuple[str, ...],
    name_flag: str, name: str | None,
) -> None:  # fmt: skip
    """Create a volume and print its name."""
    if name and name_flag and name != name_flag:
        raise click.UsageError(
            "conflicting options: cannot specify a volume-name through both --name and as a "
            "positional arg"
        )
    label_map = dict(label.partition("=")[::2] for label in labels)
    option_map = dict(option.partition("=")[::2] for option in options)
    created = session.run(
        lambda client: client.volumes.create(
            name or name_flag or None, labels=label_map, driver=driver, driver_opts=option_map
        )
    )
    click.echo(created["Name"])


@volume.command("inspect")
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.argument("names", nargs=-1, required=True, metavar="VOLUME...")
@click.pass_obj
def inspect_volumes(session: Session, output_format: str, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more volumes."""
    inspect_names(session, names, _inspect_volume, output_format, typed=True)


async def _inspect_volume(client: EngineClient, name: str) -> dict[str, Any]:
    """A volume as `docker volume inspect` prints it: decoded into volume.Volume, whose
    fields come in alphabetical order."""
    return GoStruct("volume.Volume", sorted((await client.volumes.inspect(name)).items()))


@volume.command("rm")
@click.option("-f", "--force", is_flag=True, help="Remove even when in use.")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def remove_volumes(session: Session, force: bool, names: tuple[str, ...]) -> None:
    """Remove volumes."""

    for_each(session, names, lambda client, name: client.volumes.remove(name, force=force))


@volume.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True,
              help="Remove all unused volumes, not just anonymous ones.")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@filter_flag("--filter")
@click.pass_obj
def prune_volumes(
    session: Session, prune_all: bool, force: bool, filters: dict[str, list[str]]
) -> None:
    """Remove unused local volumes."""
    if prune_all and "all" in filters:
        raise click.UsageError("conflicting options: cannot specify both --all and --filter all=1")
    if not force and not prune.confirm(ALL_WARNING if prune_all else UNUSED_WARNING):
        return
    space, output = session.run(lambda client: prune.prune_volumes(client, prune_all, filters))
    if output:
        click.echo(output)
    click.echo(prune.total_line(space))


volume.add_command(list_volumes, "list")
volume.add_command(remove_volumes, "remove")

COMMANDS = (volume,)
