"""Network commands: network ls, create, inspect, rm, connect, disconnect, prune; and port."""

from __future__ import annotations

from typing import Any

import click

from doca.cli import formatting, prune
from doca.cli import output_format as fmt
from doca.cli.filter_flags import filter_flag
from doca.cli.inspection import FORMAT_HELP, inspect_names
from doca.cli.runner import Session, for_each

TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
HEADER = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
    "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}  # fmt: skip
PRUNE_WARNING = (
    "WARNING! This will remove all custom networks not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def network_format(source: str, quiet: bool) -> str:
    if source in ("", fmt.TABLE):
        return fmt.QUIET_TEMPLATE if quiet else TABLE
    if source == fmt.RAW:
        if quiet:
            return "network_id: {{.ID}}"
        return "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
    return source


def _go_bool(value: object) -> str:
    return "true" if value else "false"


class NetworkContext(fmt.FormatterContext):
    """A network as `docker network ls` templates see it."""

    go_type = "*network.networkContext"

    def __init__(self, entry: dict[str, Any], trunc: bool = True) -> None:
        self.n = entry
        self.trunc = trunc

    def ID(self) -> str:
        identifier = str(self.n.get("Id") or "")
        return formatting.truncate_id(identifier) if self.trunc else identifier

    def Name(self) -> str:
        return str(self.n.get("Name") or "")

    def Driver(self) -> str:
        return str(self.n.get("Driver") or "")

    def Scope(self) -> str:
        return str(self.n.get("Scope") or "")

    def IPv4(self) -> str:
        return _go_bool(self.n.get("EnableIPv4", True))

    def IPv6(self) -> str:
        return _go_bool(self.n.get("EnableIPv6"))

    def Internal(self) -> str:
        return _go_bool(self.n.get("Internal"))

    def Labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in (self.n.get("Labels") or {}).items())

    def Label(self, name: str) -> str:
        return str((self.n.get("Labels") or {}).get(name, ""))

    def CreatedAt(self) -> str:
        return formatting.go_rfc3339_time(str(self.n.get("Created") or ""))


@click.group()
def network() -> None:
    """Manage networks."""


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output.")
@click.option("--format", "output_format", default="", help=fmt.FORMAT_HELP)
@filter_flag()
@click.pass_obj
def list_networks(
    session: Session, quiet: bool, no_trunc: bool, output_format: str,
    filters: dict[str, list[str]],
) -> None:  # fmt: skip
    """List networks."""
    found = session.run(lambda client: client.networks.list(filters or None))
    found.sort(key=lambda n: str(n.get("Name", "")))
    rows = [NetworkContext(entry, not no_trunc) for entry in found]
    fmt.echo(network_format(output_format, quiet), rows, HEADER)


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
@click.option("-f", "--format", "output_format", default="", help=FORMAT_HELP)
@click.argument("names", nargs=-1, required=True, metavar="NETWORK...")
@click.pass_obj
def inspect_networks(session: Session, output_format: str, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more networks."""
    inspect_names(session, names, lambda client, name: client.networks.inspect(name), output_format)


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
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@filter_flag("--filter")
@click.pass_obj
def prune_networks(session: Session, force: bool, filters: dict[str, list[str]]) -> None:
    """Remove every network no container uses."""
    if not force and not prune.confirm(PRUNE_WARNING):
        return
    _, output = session.run(lambda client: prune.prune_networks(client, False, filters))
    if output:
        click.echo(output)


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


network.add_command(list_networks, "list")
network.add_command(remove_networks, "remove")

COMMANDS = (network, port)
