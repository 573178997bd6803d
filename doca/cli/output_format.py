"""The docker CLI's ``--format`` handling for lists (cli/command/formatter): ``table`` with a
header row taken from the fields' column names, ``json`` (one JSON object a line), or any Go
template, one rendering a row."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from typing import NoReturn

import click

from doca.cli.runner import GENERAL_ERROR
from doca.cli.tabwriter import tabwrite
from doca.cli.templates import HEADER_FUNCTIONS, Template, TemplateError

TABLE = "table"
RAW = "raw"
JSON = "json"
JSON_TEMPLATE = "{{json .}}"
QUIET_TEMPLATE = "{{.ID}}"
PARSE_ERROR = "template parsing error"
FORMAT_HELP = "Format output: 'table', 'table TEMPLATE', 'json' or a Go template."


class FormatError(Exception):
    """A ``--format`` that does not parse or fit the data; ``str()`` is docker's message."""

    def __init__(self, message: str, code: int = GENERAL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def fail(error: FormatError) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(error.code)


class FormatterContext:
    """A row of a list as the docker CLI's formatter contexts offer it to templates: each
    capitalised method is a field, and ``{{json .}}`` prints those without arguments."""

    go_type = "*formatter.Context"

    def template_json(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name in dir(type(self)):
            method = getattr(self, name) if name[:1].isupper() else None
            if callable(method) and not inspect.signature(method).parameters:
                values[name] = method()
        return values


class HeaderContext(dict[str, str]):
    """What a table's header row renders: each field's column name (SubHeaderContext)."""

    go_map = True
    go_type = "formatter.SubHeaderContext"

    def Label(self, name: str) -> str:
        """The column of ``{{.Label "com.example.some-key"}}``: "some key"."""
        return name.split(".")[-1].replace("-", " ").replace("_", " ")


def is_table(text: str) -> bool:
    return text.startswith(TABLE)


def template_text(text: str) -> str:
    """The template a format stands for: without the ``table`` prefix, ``json`` as
    ``{{json .}}``, spaces trimmed and the ``\\t``, ``\\n`` escapes made real."""
    if is_table(text):
        text = text[len(TABLE) :]
    elif text == JSON:
        text = JSON_TEMPLATE
    return text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse(text: str, prefix: str = PARSE_ERROR) -> Template:
    try:
        return Template(text)
    except TemplateError as error:
        raise FormatError(f"{prefix}: {error}") from None


def render(text: str, rows: Iterable[object], header: Mapping[str, str]) -> str:
    """The output of formatter.Context.Write: a table through the tabwriter (header first),
    or each row's rendering on its own line."""
    template = parse(template_text(text))
    body = []
    for row in rows:
        try:
            body.append(template.render(row) + "\n")
        except TemplateError as error:
            raise FormatError(f"{PARSE_ERROR}: {error}") from None
    if not is_table(text):
        return "".join(body)
    # Errors in the header are ignored, as docker ignores them: the row stops where it failed.
    head, _ = template.render_partial(HeaderContext(header), HEADER_FUNCTIONS)
    return tabwrite(head + "\n" + "".join(body))


def echo(text: str, rows: Iterable[object], header: Mapping[str, str]) -> None:
    """Print ``rows`` in the format ``text``; a bad format ends the command as docker's does."""
    try:
        click.echo(render(text, rows, header), nl=False)
    except FormatError as error:
        fail(error)
