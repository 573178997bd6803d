"""System commands: version, info, and the `system` group (df, prune, events, info)."""

from __future__ import annotations

import platform
import sys
from functools import partial
from importlib import metadata
from typing import Any

import click

from doca.cli import disk_usage, formatting, prune
from doca.cli import output_format as fmt
from doca.cli.dial_stdio import dial_stdio
from doca.cli.events import events
from doca.cli.filter_flags import filter_flag
from doca.cli.host_session import CliSession
from doca.cli.runner import GENERAL_ERROR, Session, fail
from doca.cli.tabwriter import tabwrite
from doca.cli.template_values import GoStruct
from doca.cli.templates import Template, TemplateError
from doca.client import EngineClient, EngineError
from doca.client.context_store import DEFAULT_CONTEXT
from doca.client.transport import API_PREFIX

API_VERSION = API_PREFIX.removeprefix("/v")
FORMAT_HELP = "Format output using a custom template: 'json' or a Go template."
# A `--format` that does not parse ends `version` and `info` with this code.
BAD_TEMPLATE = 64
PRUNE_TEMPLATE = """WARNING! This will remove:
{{- range $_, $warning := .warnings }}
  - {{ $warning }}
{{- end }}
{{if .filters}}
  Items to be pruned will be filtered with:
{{- range $_, $filters := .filters }}
  - {{ $filters }}
{{- end }}
{{end}}
Are you sure you want to continue?"""


def client_version() -> str:
    try:
        return metadata.version("doca")
    except metadata.PackageNotFoundError:
        return "unknown"


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _fields(indent: str, pairs: list[tuple[str, Any]], width: int = 20) -> list[str]:
    """``Key: value`` lines, the values starting at column ``width`` as in `docker version`
    (0: right after the colon, as in `docker info`)."""
    return [f"{f'{indent}{key}: '.ljust(width)}{value}".rstrip() for key, value in pairs]


def client_lines() -> list[str]:
    return [
        "Client:",
        *_fields(" ", [
            ("Version", client_version()),
            ("API version", API_VERSION),
            ("Python version", platform.python_version()),
            ("OS/Arch", f"{sys.platform}/{_arch()}"),
        ]),
    ]  # fmt: skip


def server_lines(version: dict[str, Any]) -> list[str]:
    """The Server section of `docker version` for the engine's /version answer."""
    name = (version.get("Platform") or {}).get("Name", "")
    return [
        f"Server: {name}".rstrip(),
        " Engine:",
        *_fields("  ", [
            ("Version", version.get("Version", "")),
            ("API version", f"{version.get('ApiVersion', '')} "
                            f"(minimum version {version.get('MinAPIVersion', '')})"),
            ("Go version", version.get("GoVersion", "")),
            ("OS/Arch", f"{version.get('Os', '')}/{version.get('Arch', '')}"),
            ("Kernel version", version.get("KernelVersion", "")),
        ]),
    ]  # fmt: skip


def info_lines(info: dict[str, Any]) -> list[str]:
    """A few key lines of `docker info`'s Server section."""
    return [
        "Server:",
        *_fields(" ", [
            ("Containers", info.get("Containers", 0)),
            (" Running", info.get("ContainersRunning", 0)),
            (" Paused", info.get("ContainersPaused", 0)),
            (" Stopped", info.get("ContainersStopped", 0)),
            ("Images", info.get("Images", 0)),
            ("Server Version", info.get("ServerVersion", "")),
            ("Storage Driver", info.get("Driver", "")),
            ("Cgroup Driver", info.get("CgroupDriver", "")),
            ("Kernel Version", info.get("KernelVersion", "")),
            ("Operating System", info.get("OperatingSystem", "")),
            ("Architecture", info.get("Architecture", "")),
            ("CPUs", info.get("NCPU", 0)),
            ("Total Memory", formatting.bytes_size(float(info.get("MemTotal", 0)))),
            ("Name", info.get("Name", "")),
            ("Docker Root Dir", info.get("DockerRootDir", "")),
        ], width=0),
    ]  # fmt: skip


# types.Version's fields in order; the empty ones of the last four are left out of its JSON.
VERSION_FIELDS = (
    "Platform", "Components", "Version", "ApiVersion", "MinAPIVersion", "GitCommit", "GoVersion",
    "Os", "Arch", "KernelVersion", "Experimental", "BuildTime",
)  # fmt: skip
_VERSION_OMITEMPTY = ("MinAPIVersion", "KernelVersion", "Experimental", "BuildTime")


def typed_version(server: dict[str, Any]) -> GoStruct:
    """The engine's /version answer as the docker CLI decodes it into types.Version."""
    fields = {key: server.get(key, "") for key in VERSION_FIELDS}
    fields["Experimental"] = bool(server.get("Experimental"))
    return GoStruct("*types.Version", fields, omitempty=_VERSION_OMITEMPTY)


def client_fields(session: Session) -> GoStruct:
    """`docker version`'s Client (clientVersion); its JSON leaves out the empty fields but
    Context."""
    context = session.context_name() if isinstance(session, CliSession) else DEFAULT_CONTEXT
    fields = {
        "Platform": {"Name": "Doca"}, "Version": client_version(), "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION, "GitCommit": "", "GoVersion": "", "Os": sys.platform,
        "Arch": _arch(), "BuildTime": "", "Context": context,
    }  # fmt: skip
    return GoStruct("system.clientVersion", fields, omitempty=tuple(fields)[:-1])


def _parse(text: str, name: str = "") -> Template:
    try:
        return Template(fmt.JSON_TEMPLATE if text == fmt.JSON else text, name)
    except TemplateError as error:
        click.echo(f"{fmt.PARSE_ERROR}: {error}", err=True)
        sys.exit(BAD_TEMPLATE)


def _print_template(output: str, error: TemplateError | None, minwidth: int | None) -> None:
    """What a template wrote and a newline (aligned as `docker version` aligns it), then its
    error, if any, ending the command."""
    text = output + "\n"
    click.echo(tabwrite(text, minwidth, 1) if minwidth else text, nl=False)
    if error is not None:
        click.echo(str(error), err=True)
        sys.exit(GENERAL_ERROR)


@click.command()
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.pass_obj
def version(session: Session, output_format: str) -> None:
    """Show the client's and the engine's versions."""
    template = _parse(output_format, "version") if output_format else None
    if template is None:
        click.echo("\n".join(client_lines()))
    server: dict[str, Any] | None = None
    failure: EngineError | None = None
    try:
        server = session.run(lambda client: client.version())
    except EngineError as error:
        if template is None:
            click.echo()
            fail(error, session.host)
        failure = error
    if template is None:
        click.echo()
        click.echo("\n".join(server_lines(server or {})))
        return
    dot = GoStruct(
        "system.versionInfo", Client=client_fields(session), Server=server and typed_version(server)
    )
    _print_template(*template.render_partial(dot), minwidth=20)
    if failure is not None:
        fail(failure, session.host)


@click.command()
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.pass_obj
def info(session: Session, output_format: str) -> None:
    """Show engine-wide information."""
    template = _parse(output_format) if output_format else None
    answer = session.run(lambda client: client.info())
    if template is None:
        click.echo("\n".join(info_lines(answer)))
        return
    client = client_fields(session)
    client_info = GoStruct(
        "*system.clientInfo", {"Debug": False, **client, "Plugins": [], "Warnings": None},
        omitempty=client.omitempty,
    )  # fmt: skip
    dot = GoStruct("system.dockerInfo", answer, ClientInfo=client_info)
    _print_template(*template.render_partial(dot), minwidth=None)


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage.")
@click.option("--format", "output_format", default="",
              help="Format output: table, json or a Go template.")  # fmt: skip
@click.pass_obj
def disk_usage_command(session: Session, verbose: bool, output_format: str) -> None:
    """Show the engine's disk usage."""
    usage = session.run(lambda client: client.disk_usage())
    try:
        if verbose:
            text = disk_usage.render_verbose(usage, output_format)
        else:
            text = disk_usage.render_summary(usage, output_format)
    except fmt.FormatError as error:
        fmt.fail(error)
    click.echo(text, nl=False)


def prune_message(volumes: bool, prune_all: bool, filters: dict[str, list[str]]) -> str:
    """The confirmation `docker system prune` asks, naming what will go."""
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them"
                    if prune_all else "all dangling images")  # fmt: skip
    warnings.append("all build cache" if prune_all else "unused build cache")
    shown = sorted(f"{name}={value}" for name in ("label", "label!", "until")
                   for value in filters.get(name, []))  # fmt: skip
    return Template(PRUNE_TEMPLATE).render({"warnings": warnings, "filters": shown})


@click.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True,
              help="Remove all unused images not just dangling ones.")  # fmt: skip
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes.")
@filter_flag("--filter")
@click.pass_obj
def prune_system(
    session: Session, prune_all: bool, force: bool, volumes: bool, filters: dict[str, list[str]]
) -> None:
    """Remove unused data: stopped containers, unused networks, dangling images, build cache
    (and anonymous volumes with --volumes)."""
    if volumes and "until" in filters:
        click.echo('ERROR: The "until" filter is not supported with "--volumes"', err=True)
        sys.exit(GENERAL_ERROR)
    if not force and not prune.confirm(prune_message(volumes, prune_all, filters)):
        return
    pruners: list[prune.Pruner] = [prune.prune_containers, prune.prune_networks]
    if volumes:
        pruners.append(prune.prune_anonymous_volumes)
    pruners += [prune.prune_images, prune.prune_build_cache]
    total = 0
    for pruner in pruners:
        space, output = session.run(partial(_run_pruner, pruner, prune_all, filters))
        total += space
        if output:
            click.echo(output)
    click.echo(prune.total_line(total))


async def _run_pruner(
    pruner: prune.Pruner, prune_all: bool, filters: prune.Filters, client: EngineClient
) -> tuple[int, str]:
    return await pruner(client, prune_all, filters)


@click.group("system")
def system_group() -> None:
    """Manage the engine: disk usage, events, information, pruning."""


for command in (disk_usage_command, prune_system, events, info, dial_stdio):
    system_group.add_command(command)

COMMANDS = (version, info, events, system_group)
