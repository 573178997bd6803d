"""`doca inspect`: the engine's JSON for containers, images, networks or volumes, printed as
`docker inspect` prints it (indented, ``json``, or through a ``--format`` template with the raw
JSON as its data); the `inspect` subcommands of each object kind share it."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import click

from doca.cli.inspect_fields import known_fields
from doca.cli.output_format import JSON, PARSE_ERROR, FormatError
from doca.cli.output_format import parse as parse_format
from doca.cli.runner import GENERAL_ERROR, Session
from doca.cli.templates import Template, TemplateError
from doca.client import EngineClient, EngineError, NotFound

Inspector = Callable[[EngineClient, str], Awaitable[dict[str, Any]]]
# A template that does not parse ends `docker inspect` with this code.
BAD_TEMPLATE = 64
FORMAT_HELP = "Format output using a custom template: 'json' or a Go template."

# The order in which `docker inspect` without --type looks a name up.
KINDS: dict[str, Inspector] = {
    "container": lambda client, name: client.containers.inspect(name),
    "image": lambda client, name: client.images.inspect(name),
    "network": lambda client, name: client.networks.inspect(name),
    "volume": lambda client, name: client.volumes.inspect(name),
}


def render(objects: Sequence[object], typed: bool = False) -> str:
    """The docker CLI's indented output: a JSON array, 4-space indents, keys in the engine's
    order, non-ASCII text as it came; ``typed`` objects (the CLI's own, not the engine's JSON)
    get encoding/json's escapes of <, > and &."""
    text = json.dumps(list(objects), indent=4, ensure_ascii=False)
    return _escape_html(text) if typed else text


def _escape_html(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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


def template_for(text: str) -> Template | None:
    """The template of ``--format`` (None for the JSON outputs); a bad one ends the command
    with docker's exit code 64."""
    if text in ("", JSON):
        return None
    try:
        return parse_format(text)
    except FormatError as error:
        click.echo(str(error), err=True)
        sys.exit(BAD_TEMPLATE)


def show(objects: Sequence[object], errors: list[str], text: str, typed: bool = False) -> None:
    """Print what was found in the ``--format`` asked for, then the errors (exit 1), as
    inspect.Inspect does: the template runs on each object as the engine sent it (a missing
    field is an error), or on the CLI's own ``typed`` objects."""
    template = template_for(text)
    missing_key_error = not typed
    if template is None:
        if text == JSON:
            compact = json.dumps(list(objects), ensure_ascii=False, separators=(",", ":"))
            click.echo(_escape_html(compact) if typed else compact)
        else:
            click.echo(render(objects, typed) if objects else "[]")
    else:
        out = []
        for item in objects:
            try:
                text = template.render(
                    item, missing_key_error=missing_key_error, known_fields=known_fields(item)
                )
                out.append(text + "\n")
            except TemplateError as error:
                errors.append(f"{PARSE_ERROR}: {error}")
        click.echo("".join(out) or "\n", nl=False)
    if errors:
        click.echo("\n".join(errors), err=True)
        sys.exit(GENERAL_ERROR)


def inspect_names(
    session: Session, names: Sequence[str], inspector: Inspector, text: str, typed: bool = False
) -> None:
    """`docker <kind> inspect NAME…`: every object found is printed, then what was not
    (``typed``: as the docker CLI prints objects it decoded itself, see show)."""
    template_for(text)

    async def operation(client: EngineClient) -> tuple[list[dict[str, Any]], list[str]]:
        found, errors = [], []
        for name in names:
            try:
                found.append(await inspector(client, name))
            except _NoSuchObject as error:
                errors.append(error.message)
            except EngineError as error:
                if error.status == 0:
                    raise
                errors.append(f"Error response from daemon: {error.message}")
        return found, errors

    show(*session.run(operation), text, typed)


@click.command()
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.option(
    "--type", "kind", type=click.Choice(list(KINDS)), help="Only look among objects of this type."
)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(session: Session, output_format: str, kind: str | None, names: tuple[str, ...]) -> None:
    """Show the low-level details of containers, images, networks or volumes."""
    inspect_names(session, names, lambda client, name: _find(client, name, kind), output_format)


COMMANDS = (inspect,)
