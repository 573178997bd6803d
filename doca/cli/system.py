"""System commands: version, info, engine status."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import click
from rich.console import Console

from doca.cli import formatting
from doca.cli.runner import GENERAL_ERROR, Session, fail, unreachable_message
from doca.client import EngineClient, EngineError
from doca.client.transport import API_PREFIX

API_VERSION = API_PREFIX.removeprefix("/v")


def client_version() -> str:
    try:
        return metadata.version("doca")
    except metadata.PackageNotFoundError:
        return "unknown"


def _fields(indent: str, pairs: list[tuple[str, Any]], width: int = 20) -> list[str]:
    """``Key: value`` lines, the values starting at column ``width`` as in `docker version`
    (0: right after the colon, as in `docker info`)."""
    return [f"{f'{indent}{key}: '.ljust(width)}{value}".rstrip() for key, value in pairs]


def client_lines() -> list[str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return [
        "Client:",
        *_fields(" ", [
            ("Version", client_version()),
            ("API version", API_VERSION),
            ("Python version", platform.python_version()),
            ("OS/Arch", f"{sys.platform}/{arch}"),
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


@click.command()
@click.pass_obj
def version(session: Session) -> None:
    """Show the client's and the engine's versions."""
    click.echo("\n".join(client_lines()))
    try:
        server = session.run(lambda client: client.version())
    except EngineError as error:
        click.echo()
        fail(error, session.host)
    click.echo()
    click.echo("\n".join(server_lines(server)))


@click.command()
@click.pass_obj
def info(session: Session) -> None:
    """Show engine-wide information."""
    answer = session.run(lambda client: client.info())
    click.echo("\n".join(info_lines(answer)))


@click.group()
def engine() -> None:
    """Manage the Doca engine."""


async def _status(client: EngineClient) -> dict[str, Any] | None:
    return await client.version() if await client.ping() else None


@engine.command()
@click.pass_obj
def status(session: Session) -> None:
    """Whether the engine answers, and its version; exit 1 when it does not."""
    console = Console(highlight=False, soft_wrap=True)
    answer = session.run(_status)
    if answer is None:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]●[/red] {unreachable_message(session.host)}", markup=True
        )
        sys.exit(GENERAL_ERROR)
    console.print(
        f"[green]●[/green] Engine running at {session.host}: "
        f"version {answer.get('Version', '?')} (API {answer.get('ApiVersion', '?')})"
    )


COMMANDS = (version, info, engine)
