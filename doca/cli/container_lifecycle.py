"""Container lifecycle commands: restart, kill, pause, unpause, wait, rename, update and
`container prune`, with the docker CLI's output and exit codes."""

from __future__ import annotations

import sys
from typing import Any

import click

from doca.cli import container_limits as limits
from doca.cli import formatting
from doca.cli.container_attach import die
from doca.cli.container_command import (
    CONTAINERS_USAGE,
    OPTIONS_CONTAINERS_USAGE,
    DockerCommand,
    GoInt,
)
from doca.cli.run_flags import FlagError, flag_value
from doca.cli.runner import ENGINE_ERROR, GENERAL_ERROR, Session, for_each, print_error
from doca.client import EngineClient, EngineError, EngineUnavailable

PRUNE_WARNING = (
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
)


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-s", "--signal", "signal_name", help="Signal to send to the container.")
@click.option("-t", "--timeout", type=GoInt(), help="Seconds to wait before killing the container.")
@click.option("--time", "old_timeout", type=GoInt(), hidden=True, help="Deprecated: use --timeout.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def restart(
    session: Session,
    signal_name: str | None,
    timeout: int | None,
    old_timeout: int | None,
    containers: tuple[str, ...],
) -> None:
    """Restart one or more containers."""
    if timeout is not None and old_timeout is not None:
        die("conflicting options: cannot specify both --timeout and --time")
    seconds = timeout if timeout is not None else old_timeout
    for_each(
        session,
        containers,
        lambda client, c: client.containers.restart(c, timeout=seconds, signal=signal_name),
    )


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@click.option("-s", "--signal", "signal_name", help="Signal to send to the container.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(session: Session, signal_name: str | None, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    for_each(session, containers, lambda client, c: client.containers.kill(c, signal_name or None))


@click.command(cls=DockerCommand, docker_usage=CONTAINERS_USAGE)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def pause(session: Session, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    for_each(session, containers, lambda client, c: client.containers.pause(c))


@click.command(cls=DockerCommand, docker_usage=CONTAINERS_USAGE)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def unpause(session: Session, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    for_each(session, containers, lambda client, c: client.containers.unpause(c))


@click.command(cls=DockerCommand, docker_usage=CONTAINERS_USAGE)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(session: Session, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""

    async def operation(client: EngineClient) -> bool:
        failed = False
        for container in containers:
            try:
                click.echo(await client.containers.wait(container))
            except EngineUnavailable:
                raise
            except EngineError as error:
                print_error(error, session.host)
                failed = True
        return failed

    if session.run(operation):
        sys.exit(GENERAL_ERROR)


@click.command(cls=DockerCommand, docker_usage="CONTAINER NEW_NAME")
@click.argument("container")
@click.argument("new_name")
@click.pass_obj
def rename(session: Session, container: str, new_name: str) -> None:
    """Rename a container."""
    old, new = container.strip(), new_name.strip()
    if not old or not new:
        die("Error: Neither old nor new names may be empty")

    async def operation(client: EngineClient) -> None:
        try:
            await client.containers.rename(old, new)
        except EngineUnavailable:
            raise
        except EngineError as error:
            print_error(error, session.host)
            die(f"Error: failed to rename container named {old}")

    session.run(operation)


def update_config(values: dict[str, Any]) -> dict[str, Any]:
    """The ContainerUpdate body for `update`'s flags, every key the docker CLI sends."""

    def number(dest: str, parse: Any = limits.parse_int) -> int:
        return int(flag_value(values, dest, parse) or 0)

    restart = values.get("restart") or ""
    try:
        policy = limits.parse_restart_policy(restart) if restart else {}
    except ValueError as error:
        raise FlagError(str(error)) from None
    pids = number("pids_limit")
    return {
        "CpuShares": number("cpu_shares"), "Memory": number("memory", limits.parse_memory),
        "NanoCpus": number("cpus", limits.parse_cpus), "CgroupParent": "",
        "BlkioWeight": number("blkio_weight"), "BlkioWeightDevice": None,
        "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None, "CpuPeriod": number("cpu_period"),
        "CpuQuota": number("cpu_quota"), "CpuRealtimePeriod": number("cpu_rt_period"),
        "CpuRealtimeRuntime": number("cpu_rt_runtime"),
        "CpusetCpus": values.get("cpuset_cpus") or "",
        "CpusetMems": values.get("cpuset_mems") or "", "Devices": None,
        "DeviceCgroupRules": None, "DeviceRequests": None,
        "MemoryReservation": number("memory_reservation", limits.parse_memory),
        "MemorySwap": number("memory_swap", limits.parse_memory_swap),
        "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": pids or None,
        "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "RestartPolicy": {"Name": policy.get("Name", ""),
                          "MaximumRetryCount": policy.get("MaximumRetryCount", 0)},
    }  # fmt: skip


_UPDATE_FLAGS = (
    (("--blkio-weight",), "Block IO relative weight, 10 to 1000 (0 disables)."),
    (("--cpu-period",), "Limit CPU CFS period."),
    (("--cpu-quota",), "Limit CPU CFS quota."),
    (("--cpu-rt-period",), "Limit the CPU real-time period in microseconds."),
    (("--cpu-rt-runtime",), "Limit the CPU real-time runtime in microseconds."),
    (("-c", "--cpu-shares"), "CPU shares (relative weight)."),
    (("--cpus",), "Number of CPUs."),
    (("--cpuset-cpus",), "CPUs in which to allow execution (0-3, 0,1)."),
    (("--cpuset-mems",), "MEMs in which to allow execution (0-3, 0,1)."),
    (("-m", "--memory"), "Memory limit."),
    (("--memory-reservation",), "Memory soft limit."),
    (("--memory-swap",), "Swap limit equal to memory plus swap: -1 for unlimited swap."),
    (("--pids-limit",), "Tune container pids limit (set -1 for unlimited)."),
    (("--restart",), "Restart policy to apply when a container exits."),
)


def _update_flags(command: Any) -> Any:
    for names, text in reversed(_UPDATE_FLAGS):
        command = click.option(*names, names[-1][2:].replace("-", "_"), help=text)(command)
    return command


@click.command(cls=DockerCommand, docker_usage=OPTIONS_CONTAINERS_USAGE)
@_update_flags
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def update(session: Session, containers: tuple[str, ...], **values: Any) -> None:
    """Update configuration of one or more containers."""
    if all(value is None for value in values.values()):
        die("you must provide one or more flags when using this command")
    try:
        config = update_config(values)
    except FlagError as error:
        if not error.usage:
            die(str(error))
        more = "Run 'doca update --help' for more information"
        usage = "Usage:  doca update [OPTIONS] CONTAINER [CONTAINER...]"
        die(f"{error}\n\n{usage}\n\n{more}", ENGINE_ERROR)

    async def operation(client: EngineClient) -> bool:
        warnings: list[str] = []
        failed = False
        for container in containers:
            try:
                warnings += await client.containers.update(container, config)
            except EngineUnavailable:
                raise
            except EngineError as error:
                print_error(error, session.host)
                failed = True
            else:
                click.echo(container)
        if warnings:
            click.echo("\n".join(warnings))
        return failed

    if session.run(operation):
        sys.exit(GENERAL_ERROR)


def prune_filters(texts: tuple[str, ...]) -> dict[str, list[str]]:
    """``--filter KEY=VALUE`` values, grouped by key."""
    filters: dict[str, list[str]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep:
            die(
                f'invalid argument "{text}" for "--filter" flag: bad format of filter (expected '
                "name=value)\n\nUsage:  doca container prune [OPTIONS]\n\n"
                "Run 'doca container prune --help' for more information",
                ENGINE_ERROR,
            )
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


@click.command("prune", cls=DockerCommand, docker_usage="[OPTIONS]")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--filter", "filters", multiple=True, help='Provide filter values ("until=24h").')
@click.pass_obj
def prune(session: Session, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all stopped containers."""
    wanted = prune_filters(filters)
    if not force and not click.confirm(PRUNE_WARNING, prompt_suffix=" "):
        return
    report = session.run(lambda client: client.containers.prune(wanted or None))
    deleted = report.get("ContainersDeleted") or []
    reclaimed = int(report.get("SpaceReclaimed") or 0) if deleted else 0
    if deleted:
        click.echo("Deleted Containers:\n" + "".join(f"{cid}\n" for cid in deleted))
    click.echo(f"Total reclaimed space: {formatting.human_size(reclaimed, 4)}")
