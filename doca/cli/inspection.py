"""`doca inspect`: the engine's JSON for containers, images, networks or volumes, printed as
`docker inspect` prints it."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from doca.cli.runner import GENERAL_ERROR, Session
from doca.client import EngineClient, EngineError, NotFound

Inspector = Callable[[EngineClient, str], Awaitable[dict[str, Any]]]

# The order in which `docker inspect` without --type looks a name up.
KINDS: dict[str, Inspector] = {
    "container": lambda client, name: client.containers.inspect(name),
    "image": lambda client, name: client.images.inspect(name),
    "network": lambda client, name: client.networks.inspect(name),
    "volume": lambda client, name: client.volumes.inspect(name),
}


def render(objects: list[dict[str, Any]]) -> str:
    """The docker CLI's indented output: a JSON array, 4-space indents, keys in the engine's
    order, non-ASCII text as it came."""
    return json.dumps(objects, indent=4, ensure_ascii=False)


class _NoSuchObject(NotFound):
    """No kind has the name; the message is the docker CLI's line for it."""


async def _find(client: EngineClient, name: str, kind: str | None) -> dict[str, Any]:
    """The first object named ``name`` among ``kind`` (or every kind, in docker's order)."""
    if kind is not None:
        return await KINDS[kind](client, name)
    for inspector in KINDS.values():
        try:
            return await inspector(client, name)
        except NotFound:
            continue
    raise _NoSuchObject(404, f"Error: No such object: {name}")


@click.command()
@click.option(
    "--type", "kind", type=click.Choice(list(KINDS)), help="Only look among objects of this type."
)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(session: Session, kind: str | None, names: tuple[str, ...]) -> None:
    """Show the low-level details of containers, images, networks or volumes."""

    async def operation(client: EngineClient) -> tuple[list[dict[str, Any]], list[str]]:
        found, errors = [], []
        for name in names:
            try:
                found.append(await _find(client, name, kind))
            except _NoSuchObject as error:
                errors.append(error.message)
            except EngineError as error:
                if error.status == 0:
                    raise
                errors.append(f"Error response from daemon: {error.message}")
        return found, errors

    found, errors = session.run(operation)
    click.echo(render(found))
    if errors:
        # Like the docker CLI: every object found is printed, then what was not.
        click.echo("\n".join(errors), err=True)
        sys.exit(GENERAL_ERROR)


COMMANDS = (inspect,)
