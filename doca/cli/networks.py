"""Network commands: network ls, create, inspect, rm, connect, disconnect, prune; and port."""

from __future__ import annotations

from typing import Any

import click
import orjson

from doca.cli import formatting
from doca.cli.runner import Session, for_each


@click.group()
def network() -> None:
    """Manage networks."""


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs.")
@click.option("-f", "--filter", "filters", multiple=True, metavar="K=V", help="Filter output.")
@click.pass_obj
def list_networks(session: Session, quiet: bool, filters: tuple[str, ...]) -> None:
    """List networks."""
    wanted: dict[str, list[str]] = {}
    for item in filters:
        key, _, value = item.partition("=")
        wanted.setdefault(key, []).append(value)
    found = session.run(lambda client: client.networks.list(wanted or None))
    found.sort(key=lambda n: str(n.get("Name", "")))
    if quiet:
        for entry in found:
            click.echo(formatting.short_id(str(entry["Id"])))
        return
    rows = (
        (
            formatting.short_id(str(n.get("Id", ""))),
            str(n.get("Name", "")),
            str(n.get("Driver", "")),
            str(n.get("Scope", "")),
        )
        for n in found
    )
    click.echo(formatting.table(("NETWORK ID", "NAME", "DRIVER", "SCOPE"), rows))


@network.command("create")
@click.option("-d", "--driver", default="bridge", show_default=True, help="Network driver.")
@click.option("--subnet", multiple=True, help="Subnet in CIDR form.")
@click.option("--ip-range", multiple=True, help="Allocate addresses from this sub-range.")
@click.option("--gateway", multiple=True, help="Gateway of the subnet.")
@click.option("--internal", is_flag=True, help="No traffic to or from outside the network.")
@click.option("--ipv6", is_flag=True, help="Give the network an IPv6 subnet too.")
@click.option("-l", "--label", "labels", multiple=True, metavar="K=V", help="Set a label.")
@click.option("-o", "--opt", "options", multiple=True, metavar="K=V", help="Driver option.")
@click.argument("name")
@click.pass_obj
def create_network(
    session: Session,
    driver: str,
    subnet: tuple[str, ...],
    ip_range: tuple[str, ...],
    gateway: tuple[str, ...],
    internal: bool,
    ipv6: bool,
    labels: tuple[str, ...],
    options: tuple[str, ...],
    name: str,
) -> None:
    """Create a network and print its ID."""
    if len(ip_range) > len(subnet) or len(gateway) > len(subnet):
        raise click.BadParameter("every --ip-range and --gateway needs its --subnet")
    config: list[dict[str, str]] = []
    for index, cidr in enumerate(subnet):
        entry = {"Subnet": cidr}
        if index < len(ip_range):
            entry["IPRange"] = ip_range[index]
        if index < len(gateway):
            entry["Gateway"] = gateway[index]
        config.append(entry)
    body: dict[str, Any] = {
        "Driver": driver,
        "Internal": internal,
        "EnableIPv6": ipv6,
        "IPAM": {"Driver": "default", "Config": config},
        "Labels": dict(label.partition("=")[::2] for label in labels),
        "Options": dict(option.partition("=")[::2] for option in options),
    }
    click.echo(session.run(lambda client: client.networks.create(name, **body)))


@network.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect_networks(session: Session, names: tuple[str, ...]) -> None:
    """Show networks as JSON."""

    async def operation(client: Any) -> list[dict[str, Any]]:
        return [await client.networks.inspect(name) for name in names]

    shown = session.run(operation)
    click.echo(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def remove_networks(session: Session, names: tuple[str, ...]) -> None:
    """Remove networks."""
    for_each(session, names, lambda client, name: client.networks.remove(name))


@network.command("connect")
@click.option("--alias", "aliases", multiple=True, help="Another DNS name on the network.")
@click.option("--ip", help="IPv4 address on the network.")
@click.argument("name")
@click.argument("container")
@click.pass_obj
def connect_network(
    session: Session, aliases: tuple[str, ...], ip: str | None, name: str, container: str
) -> None:
    """Connect a container to a network."""
    endpoint: dict[str, Any] = {}
    if aliases:
        endpoint["Aliases"] = list(aliases)
    if ip:
        endpoint["IPAMConfig"] = {"IPv4Address": ip}
    session.run(lambda client: client.networks.connect(name, container, endpoint))


@network.command("disconnect")
@click.option("-f", "--force", is_flag=True, help="Disconnect even a container that is gone.")
@click.argument("name")
@click.argument("container")
@click.pass_obj
def disconnect_network(session: Session, force: bool, name: str, container: str) -> None:
    """Disconnect a container from a network."""
    session.run(lambda client: client.networks.disconnect(name, container, force))


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def prune_networks(session: Session, force: bool) -> None:
    """Remove every network no container uses."""
    if not force and not click.confirm(
        "WARNING! This will remove all custom networks not used by at least one container.\n"
        "Are you sure you want to continue?"
    ):
        return
    deleted = session.run(lambda client: client.networks.prune())
    if deleted:
        click.echo("Deleted Networks:\n" + "\n".join(deleted) + "\n")


def port_lines(ports: dict[str, Any], wanted: str | None) -> list[str]:
    """`docker port` output: ``80/tcp -> 0.0.0.0:8080``, IPv6 hosts in brackets."""
    if wanted and "/" not in wanted:
        wanted += "/tcp"
    lines = []
    for key, bindings in ports.items():
        if wanted and key != wanted:
            continue
        for binding in bindings or []:
            host = str(binding.get("HostIp", ""))
            host = f"[{host}]" if ":" in host else host
            address = f"{host}:{binding.get('HostPort', '')}"
            lines.append(address if wanted else f"{key} -> {address}")
    return lines


@click.command()
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_obj
def port(session: Session, container: str, private_port: str | None) -> None:
    """List a container's published ports, or where one of its ports is published."""
    details = session.run(lambda client: client.containers.inspect(container))
    ports = (details.get("NetworkSettings") or {}).get("Ports") or {}
    lines = port_lines(ports, private_port)
    if private_port and not lines:
        raise click.ClickException(f"No public port '{private_port}' published for {container}")
    for line in lines:
        click.echo(line)


COMMANDS = (network, port)
