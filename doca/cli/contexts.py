"""`doca context`: ls, use, create, rm, inspect, show, on the docker CLI's own context store
(see doca.client.context_store), with the docker CLI's output and messages."""

from __future__ import annotations

import csv
import os
import sys
from typing import Any, NoReturn

import click

from doca.cli import formatting
from doca.cli import output_format as fmt
from doca.cli.context_state import EngineState, engine_states
from doca.cli.host_session import CliSession
from doca.cli.inspection import FORMAT_HELP, show
from doca.cli.runner import GENERAL_ERROR, Session
from doca.client.context_store import (
    DEFAULT_CONTEXT,
    IN_MEMORY,
    Context,
    ContextError,
    ContextNotFound,
    ContextStore,
    endpoint_meta,
    natural_key,
    validate_name,
)
from doca.client.transport import DEFAULT_HOST

TABLE = "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}"
HEADER = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT",
          "Error": "ERROR"}  # fmt: skip
# With --state: each engine's state before the error, which is then the probe's when the
# context itself has none.
STATE_TABLE = (
    "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}"
    "\t{{.State}}\t{{.EngineVersion}}\t{{.ContainersRunning}}\t{{.Error}}"
)
STATE_HEADER = {**HEADER, "State": "STATE", "EngineVersion": "VERSION",
                "ContainersRunning": "RUNNING"}  # fmt: skip
HOST_OVERRIDE_WARNING = (
    "Warning: DOCKER_HOST environment variable overrides the active context. To use {what}, "
    "either set the global --context flag, or unset DOCKER_HOST environment variable."
)
DOCKER_KEYS = ("from", "host", "ca", "cert", "key", "skip-tls-verify")
# The longest error `context ls` shows before cutting it.
MAX_ERROR = 45


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def default_context(session: Session) -> Context:
    """The ``default`` context: ``-H``, ``$DOCKER_HOST`` or the default socket."""
    flag = session.host_flag if isinstance(session, CliSession) else None
    host = flag or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    return Context(DEFAULT_CONTEXT, {}, {"docker": endpoint_meta(host)})


def current_name(session: Session) -> str:
    return session.context_name() if isinstance(session, CliSession) else DEFAULT_CONTEXT


def lookup(store: ContextStore, session: Session, name: str) -> Context:
    return default_context(session) if name == DEFAULT_CONTEXT else store.get(name)


class ContextRow(fmt.FormatterContext):
    """A row of `docker context ls` (clientContextContext)."""

    go_type = "*formatter.clientContextContext"

    def __init__(self, name: str, current: bool, description: str = "", endpoint: str = "",
                 error: str = "") -> None:  # fmt: skip
        self.name, self.current, self.description = name, current, description
        self.endpoint, self.error = endpoint, error

    def Name(self) -> str:
        return self.name

    def Current(self) -> bool:
        return self.current

    def Description(self) -> str:
        return self.description

    def DockerEndpoint(self) -> str:
        return self.endpoint

    def Error(self) -> str:
        return formatting.ellipsis(self.error, MAX_ERROR)


class ContextStateRow(ContextRow):
    """A row of `doca context ls --state`: a context and the state of its engine."""

    def __init__(self, row: ContextRow, state: EngineState | None) -> None:
        super().__init__(row.name, row.current, row.description, row.endpoint, row.error)
        self.state = state

    def State(self) -> str:
        return self.state.label if self.state else ""

    def EngineVersion(self) -> str:
        return self.state.version if self.state else ""

    def ContainersRunning(self) -> str:
        running = self.state.running if self.state else None
        return "" if running is None else str(running)

    def Error(self) -> str:
        error = self.error or (self.state.error if self.state else "")
        return formatting.ellipsis(error, MAX_ERROR)


def with_states(rows: list[ContextRow]) -> list[ContextStateRow]:
    """Each row with the state of its engine, all engines asked at once."""
    probed = [row for row in rows if row.endpoint and not row.error]
    found = engine_states([row.endpoint for row in probed])
    states = dict(zip(map(id, probed), found, strict=True))
    return [ContextStateRow(row, states.get(id(row))) for row in rows]


@click.group("context")
def context_group() -> None:
    """Manage contexts."""


@context_group.command("ls")
@click.option("--format", "output_format", default="", help=fmt.FORMAT_HELP)
@click.option("-q", "--quiet", is_flag=True, help="Only show context names.")
@click.option("--state", "show_state", is_flag=True,
              help="Ask each context's engine whether it answers, its version and how many "
              "containers it runs.")  # fmt: skip
@click.pass_obj
def list_contexts(session: Session, output_format: str, quiet: bool, show_state: bool) -> None:
    """List contexts."""
    store = ContextStore()
    current = current_name(session)
    rows = []
    for context in [*store.list_contexts(), default_context(session)]:
        try:
            rows.append(ContextRow(context.name, context.name == current, context.description,
                                   context.host))  # fmt: skip
        except ContextError as error:
            rows.append(ContextRow(context.name, context.name == current, error=str(error)))
    if current not in {row.name for row in rows}:
        try:
            store.get(current)
            message = ""
        except ContextError as error:
            message = str(error)
        rows.append(ContextRow(current, True, error=message))
    rows.sort(key=lambda row: natural_key(row.name))
    probe = show_state and not quiet
    table, header = (STATE_TABLE, STATE_HEADER) if probe else (TABLE, HEADER)
    template = "{{.Name}}" if quiet else table if output_format in ("", "table") else output_format
    fmt.echo(template, with_states(rows) if probe else rows, header)
    if os.environ.get("DOCKER_HOST"):
        click.echo(HOST_OVERRIDE_WARNING.format(what="a context"), err=True)


@context_group.command("use")
@click.argument("name", metavar="CONTEXT")
def use_context(name: str) -> None:
    """Set the current context."""
    store = ContextStore()
    if name != DEFAULT_CONTEXT:
        try:
            validate_name(name)
            store.get(name)
        except ContextError as error:
            _die(str(error))
    store.set_current_context(name)
    click.echo(name)
    click.echo(f'Current context is now "{name}"', err=True)
    if name != DEFAULT_CONTEXT and os.environ.get("DOCKER_HOST"):
        click.echo(HOST_OVERRIDE_WARNING.format(what=f'"{name}"'), err=True)


def _docker_options(values: tuple[str, ...]) -> dict[str, str]:
    """``--docker k=v,k=v`` (repeatable) into one map, as pflag's StringToString reads it."""
    found: dict[str, str] = {}
    for value in values:
        for item in next(csv.reader([value])) if value else []:
            key, sep, text = item.partition("=")
            if not sep:
                raise click.BadParameter(f"{item} must be formatted as key=value")
            found[key] = text
    return found


def _endpoint(store: ContextStore, options: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(key for key in options if key not in DOCKER_KEYS)
    if unknown:
        raise ContextError("unable to create docker endpoint config: " + "\n".join(
            f"unrecognized config key: {key}" for key in unknown))  # fmt: skip
    if "from" in options:
        return dict(store.get(options["from"]).endpoint)
    if any(options.get(key) for key in ("ca", "cert", "key")):
        raise ContextError("unable to create docker endpoint config: TLS material (ca, cert, "
                           "key) is not supported by doca")  # fmt: skip
    skip = options.get("skip-tls-verify", "false")
    if skip not in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false",
                    "False"):  # fmt: skip
        raise ContextError(f'unable to create docker endpoint config: skip-tls-verify: parsing '
                           f'"{skip}": invalid syntax')  # fmt: skip
    host = options.get("host", "")
    if host and "://" not in host:
        raise ContextError("unable to create docker endpoint config: unable to apply docker "
                           f"endpoint options: unable to parse docker host `{host}`")  # fmt: skip
    return endpoint_meta(host, skip.lower() in ("1", "t", "true"))


@context_group.command("create")
@click.option("--description", default="", help="Description of the context.")
@click.option("--docker", "docker_options", multiple=True, metavar="KEY=VALUE,…",
              help="The docker endpoint: host=…, skip-tls-verify=…, from=….")  # fmt: skip
@click.option("--from", "source", default="", help="Create context from a named context.")
@click.argument("name", metavar="CONTEXT")
@click.pass_obj
def create_context(
    session: Session, description: str, docker_options: tuple[str, ...], source: str, name: str
) -> None:
    """Create a context."""
    store = ContextStore()
    try:
        validate_name(name)
        if store.exists(name):
            raise ContextError(f'context "{name}" already exists')
        options = _docker_options(docker_options)
        if source or not options:
            if options:
                raise ContextError("cannot use --docker flag when --from is set")
            origin = lookup(store, session, source or current_name(session))
            metadata = {**origin.metadata, "Description": description or origin.description}
            context = Context(name, {k: v for k, v in metadata.items() if v != ""},
                              dict(origin.endpoints))  # fmt: skip
        else:
            metadata = {"Description": description} if description else {}
            context = Context(name, metadata, {"docker": _endpoint(store, options)})
    except ContextError as error:
        _die(str(error))
    store.save(context)
    click.echo(name)
    click.echo(f'Successfully created context "{name}"', err=True)


@context_group.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force the removal of a context in use.")
@click.argument("names", nargs=-1, required=True, metavar="CONTEXT...")
@click.pass_obj
def remove_contexts(session: Session, force: bool, names: tuple[str, ...]) -> None:
    """Remove one or more contexts."""
    store = ContextStore()
    current = current_name(session)
    errors = []
    for name in names:
        if name == DEFAULT_CONTEXT:
            errors.append('context "default" cannot be removed')
            continue
        if name == current:
            if not force:
                errors.append(f'context "{name}" is in use, set -f flag to force remove')
                continue
            store.set_current_context(DEFAULT_CONTEXT)
        if not force and not store.exists(name):
            errors.append(f'context "{name}" does not exist')
            continue
        store.remove(name)
        click.echo(name)
    if errors:
        _die("\n".join(errors))


context_group.add_command(remove_contexts, "remove")
context_group.add_command(list_contexts, "list")


@context_group.command("inspect")
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.argument("names", nargs=-1, metavar="[CONTEXT...]")
@click.pass_obj
def inspect_contexts(session: Session, output_format: str, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more contexts."""
    store = ContextStore()
    found, errors = [], []
    for name in names or (current_name(session),):
        try:
            context = lookup(store, session, name)
        except ContextNotFound as error:
            errors.append(str(error))
            continue
        in_memory = name == DEFAULT_CONTEXT
        found.append({
            **context.to_json(),
            "TLSMaterial": {} if in_memory else store.tls_files(name),
            "Storage": {
                "MetadataPath": IN_MEMORY if in_memory else str(store.meta_path(name)),
                "TLSPath": IN_MEMORY if in_memory else str(store.tls_path(name)),
            },
        })  # fmt: skip
    show(found, errors, output_format, typed=True)


@context_group.command("show")
@click.pass_obj
def show_context(session: Session) -> None:
    """Print the name of the current context."""
    click.echo(current_name(session))


COMMANDS = (context_group,)
