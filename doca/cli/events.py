"""`doca events` (and `doca system events`): the engine's events as the docker CLI prints them,
one a line, or through a ``--format`` template."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import click

from doca.cli.filter_flags import filter_flag
from doca.cli.output_format import JSON, JSON_TEMPLATE
from doca.cli.runner import GENERAL_ERROR, Session
from doca.cli.template_values import GoStruct
from doca.cli.templates import Template, TemplateError
from doca.cli.timestamps import get_timestamp
from doca.client import EngineClient

# `docker events` ends with this code when its template does not parse or fit a message.
BAD_FORMAT = 64
INTERRUPTED = 130


# events.Message's fields in order; the first three (deprecated) only in JSON when set.
MESSAGE_FIELDS = ("status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano")
_OMITEMPTY = ("status", "id", "from")


def event_message(message: Mapping[str, Any]) -> GoStruct:
    """An event as the docker CLI decodes it into events.Message for templates."""
    empty: dict[str, Any] = {"Actor": {"ID": "", "Attributes": {}}, "time": 0, "timeNano": 0}
    fields = {key: message.get(key, empty.get(key, "")) for key in MESSAGE_FIELDS}
    actor = fields["Actor"] if isinstance(fields["Actor"], Mapping) else {}
    fields["Actor"] = GoStruct(
        "events.Actor", ID=actor.get("ID", ""), Attributes=actor.get("Attributes") or {}
    )
    return GoStruct("*events.Message", fields, omitempty=_OMITEMPTY)


EMPTY_MESSAGE = event_message({})


def event_time(message: Mapping[str, Any]) -> str:
    """The time of an event as ``2006-01-02T15:04:05.000000000Z07:00`` in the local zone."""
    nanos = int(message.get("timeNano") or 0) or int(message.get("time") or 0) * 10**9
    moment = datetime.fromtimestamp(nanos // 10**9).astimezone()
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos % 10**9:09d}{zone}"


def pretty_event(message: Mapping[str, Any]) -> str:
    """prettyPrintEvent: time, type, action, actor ID and its sorted attributes."""
    actor = message.get("Actor") or {}
    line = ""
    if message.get("timeNano") or message.get("time"):
        line = event_time(message) + " "
    line += f"{message.get('Type', '')} {message.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return line


def make_template(text: str) -> Template | None:
    """The ``--format`` template, checked on an empty message as docker checks it."""
    if not text:
        return None
    try:
        template = Template(JSON_TEMPLATE if text == JSON else text)
        template.render(EMPTY_MESSAGE)
    except TemplateError as error:
        click.echo(f"Error parsing format: {error}", err=True)
        sys.exit(BAD_FORMAT)
    return template


def _timestamp(value: str, now: float) -> str | None:
    if not value:
        return None
    try:
        return get_timestamp(value, now)
    except ValueError as error:
        click.echo(str(error), err=True)
        sys.exit(GENERAL_ERROR)


@click.command()
@click.option("--since", default="", help="Show all events created since timestamp.")
@click.option("--until", default="", help="Stream events until this timestamp.")
@filter_flag()
@click.option("--format", "output_format", default="",
              help="Format output using a custom template: 'json' or a Go template.")  # fmt: skip
@click.pass_obj
def events(
    session: Session, since: str, until: str, filters: dict[str, list[str]], output_format: str
) -> None:
    """Get real time events from the engine."""
    template = make_template(output_format)
    now = time.time()
    since_value, until_value = _timestamp(since, now), _timestamp(until, now)

    async def operation(client: EngineClient) -> None:
        async for message in client.events(since_value, filters or None, until_value):
            if template is None:
                line = pretty_event(message)
            else:
                try:
                    line = template.render(event_message(message))
                except TemplateError as error:
                    click.echo(str(error), err=True)
                    sys.exit(GENERAL_ERROR)
            click.echo(line)
            sys.stdout.flush()

    try:
        session.run(operation)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
