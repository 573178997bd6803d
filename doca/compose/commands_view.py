"""``doca compose ps|logs|ls|top|port|images|events``: what a project's containers are doing,
printed as Compose v2 prints it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click

from doca.cli import formatting
from doca.cli import output_format as fmt
from doca.cli.tabwriter import tabwrite
from doca.client import EngineClient
from doca.compose import labels as L
from doca.compose import operations
from doca.compose.compose_ps import ps_json, render_ps
from doca.compose.convergence import name_of, number_of
from doca.compose.errors import ComposeError
from doca.compose.group import compose, with_project_name

# The colours Compose cycles through for the log prefixes of a terminal.
_COLOURS = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)


@compose.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show stopped containers too.")
@click.option("--format", "output", default="table", help="Format the output: table, json or a "
              "Go template.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.option("--services", is_flag=True, help="Display services.")
@click.option("--status", "statuses", multiple=True, help="Filter services by status.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.argument("services_named", nargs=-1)
@click.pass_context
def ps(
    ctx: click.Context, show_all: bool, output: str, quiet: bool, services: bool,
    statuses: tuple[str, ...], no_trunc: bool, services_named: tuple[str, ...],
) -> None:  # fmt: skip
    """List containers."""
    session, name, _ = with_project_name(ctx)
    rows = session.run(lambda client: operations.project_containers(
        client, name, show_all or bool(statuses)
    ))  # fmt: skip
    rows = [r for r in rows if (not services_named or r["Labels"].get(L.SERVICE) in
            services_named) and (not statuses or r.get("State") in statuses)]  # fmt: skip
    if services:
        shown = dict.fromkeys(str(r["Labels"].get(L.SERVICE, "")) for r in rows)
        click.echo("\n".join(shown), nl=bool(shown))
    elif quiet:
        click.echo("\n".join(row["Id"] for row in rows), nl=bool(rows))
    elif output == "json":
        for row in rows:
            click.echo(json.dumps(ps_json(row), separators=(",", ":")))
    else:
        try:
            click.echo(render_ps(rows, output, no_trunc), nl=False)
        except fmt.FormatError as error:
            fmt.fail(error)


@compose.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-n", "--tail", default="all", help="Lines to show from the end of the logs.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("--no-color", is_flag=True, help="Produce monochrome output.")
@click.option("--no-log-prefix", is_flag=True, help="Don't print a prefix in logs.")
@click.argument("services", nargs=-1)
@click.pass_context
def logs(
    ctx: click.Context, follow: bool, tail: str, timestamps: bool, no_color: bool,
    no_log_prefix: bool, services: tuple[str, ...],
) -> None:  # fmt: skip
    """View output from containers."""
    session, name, _ = with_project_name(ctx)
    lines = None if tail == "all" else int(tail)
    session.run(lambda client: print_logs(
        client, name, list(services), follow, lines, timestamps,
        prefix=not no_log_prefix, colour=not no_color and sys.stdout.isatty(),
    ))  # fmt: skip


async def print_logs(
    client: EngineClient, project: str, services: list[str], follow: bool,
    tail: int | None = None, timestamps: bool = False, prefix: bool = True,
    colour: bool = False,
) -> None:  # fmt: skip
    """Every container's log lines prefixed ``<service>-<n>  | `` as Compose prints them,
    interleaved as they come."""
    containers = [c for c in await operations.project_containers(client, project)
                  if not services or c["Labels"].get(L.SERVICE) in services]  # fmt: skip
    names = {c["Id"]: f"{c['Labels'][L.SERVICE]}-{number_of(c)}" for c in containers}
    width = max((len(p) for p in names.values()), default=0)

    def prefix_of(index: int, container_id: str) -> str:
        if not prefix:
            return ""
        text = names[container_id].ljust(width) + "  | "
        return f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{text}\x1b[0m" if colour else text

    async def one(index: int, container_id: str) -> None:
        lead = prefix_of(index, container_id)
        pending = b""
        async for _, chunk in client.containers.logs(container_id, follow=follow, tail=tail,
                                                     timestamps=timestamps):  # fmt: skip
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                click.echo(lead + line.decode(errors="replace"))
        if pending:
            click.echo(lead + pending.decode(errors="replace"))

    async with asyncio.TaskGroup() as group:
        for index, container_id in enumerate(names):
            group.create_task(one(index, container_id))


@compose.command(name="ls")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all stopped projects.")
@click.option("--format", "output", default="table")
@click.option("-q", "--quiet", is_flag=True, help="Only display project names.")
@click.pass_context
def list_projects(ctx: click.Context, show_all: bool, output: str, quiet: bool) -> None:
    """List running compose projects."""
    session, _ = ctx.obj
    rows = session.run(operations.list_projects)
    if not show_all:
        rows = [row for row in rows if "running" in row["Status"]]
    if quiet:
        click.echo("\n".join(row["Name"] for row in rows), nl=bool(rows))
    elif output == "json":
        click.echo(json.dumps(rows, separators=(",", ":")))
    else:
        text = "NAME\tSTATUS\tCONFIG FILES\n" + "".join(
            f"{row['Name']}\t{row['Status']}\t{row['ConfigFiles']}\n" for row in rows
        )
        click.echo(tabwrite(text, minwidth=4, padding=3), nl=False)


@compose.command()
@click.argument("services", nargs=-1)
@click.pass_context
def top(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Display the running processes."""
    session, name, _ = with_project_name(ctx)

    async def collect(client: EngineClient) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        rows = await operations.project_containers(client, name, all=False, one_off=True)
        chosen = [r for r in rows if not services or r["Labels"].get(L.SERVICE) in services]
        chosen.sort(key=name_of)
        return [(row, await client.containers.top(row["Id"])) for row in chosen]

    header: list[str] = ["SERVICE", "#"]
    entries: list[dict[str, str]] = []
    for row, procs in session.run(collect):
        titles = [str(t) for t in procs.get("Titles") or []]
        header += [t for t in titles if t not in header]
        for process in procs.get("Processes") or []:
            entry = {"SERVICE": str(row["Labels"].get(L.SERVICE, "")), "#": str(number_of(row))}
            entry.update(zip(titles, (str(p) for p in process), strict=False))
            entries.append(entry)
    if not entries:
        return
    if "CMD" in header:
        header.remove("CMD")
        header.append("CMD")
    text = "".join("\t".join(line) + "\n" for line in
                   [header, *([e.get(h, "") for h in header] for e in entries)])  # fmt: skip
    click.echo(tabwrite(text, minwidth=4, padding=2), nl=False)


@compose.command()
@click.option("--index", type=int, default=0, help="Index of the container if several.")
@click.option("--protocol", default="tcp", type=click.Choice(["tcp", "udp"]))
@click.argument("service")
@click.argument("private_port", type=int)
@click.pass_context
def port(ctx: click.Context, index: int, protocol: str, service: str, private_port: int) -> None:
    """Print the public port for a port binding."""
    session, name, _ = with_project_name(ctx)

    async def find(client: EngineClient) -> str:
        rows = await operations.project_containers(client, name, all=False)
        mine = [r for r in rows if r["Labels"].get(L.SERVICE) == service]
        if not mine:
            raise ComposeError(f"service {service!r} is not running")
        chosen = next((r for r in mine if number_of(r) == index), mine[0]) if index else mine[0]
        for binding in chosen.get("Ports") or []:
            wanted = binding.get("PrivatePort") == private_port and binding.get("Type") == protocol
            if wanted and binding.get("PublicPort"):
                return f"{binding.get('IP', '')}:{binding['PublicPort']}"
        raise ComposeError(f"no port {private_port}/{protocol} for container {name_of(chosen)}")

    click.echo(session.run(find))


@compose.command()
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.argument("services", nargs=-1)
@click.pass_context
def images(ctx: click.Context, output: str, quiet: bool, services: tuple[str, ...]) -> None:
    """List images used by the created containers."""
    session, name, _ = with_project_name(ctx)

    async def collect(client: EngineClient) -> list[tuple[str, dict[str, Any]]]:
        rows = await operations.project_containers(client, name, one_off=True)
        chosen = [r for r in rows if not services or r["Labels"].get(L.SERVICE) in services]
        return [(name_of(r), await client.images.inspect(str(r["ImageID"]))) for r in chosen]

    found = sorted(session.run(collect), key=lambda pair: pair[0])
    if quiet:
        click.echo("\n".join(dict.fromkeys(i["Id"] for _, i in found)), nl=bool(found))
        return
    now = time.time()
    rows = []
    for container, image in found:
        tags = image.get("RepoTags") or ["<none>:<none>"]
        repository, _, tag = str(tags[0]).rpartition(":")
        rows.append({"ContainerName": container, "Repository": repository, "Tag": tag,
                     "ID": image["Id"], "Size": int(image.get("Size") or 0),
                     "Created": image.get("Created", "")})  # fmt: skip
    if output == "json":
        click.echo(json.dumps(rows, separators=(",", ":")))
        return
    text = "CONTAINER\tREPOSITORY\tTAG\tPLATFORM\tIMAGE ID\tSIZE\tCREATED\n"
    for row, (_, image) in zip(rows, found, strict=True):
        platform = f"{image.get('Os', 'linux')}/{image.get('Architecture', '')}"
        # Compose 2.40 shows when the image was last tagged here (its pull or load).
        tagged = str((image.get("Metadata") or {}).get("LastTagTime") or row["Created"])
        created = formatting.time_ago(formatting.rfc3339_seconds(tagged), now)
        text += (f"{row['ContainerName']}\t{row['Repository']}\t{row['Tag']}\t{platform}\t"
                 f"{formatting.truncate_id(str(row['ID']))}\t"
                 f"{formatting.human_size(row['Size'], 3)}\t{created}\n")  # fmt: skip
    click.echo(tabwrite(text, minwidth=20, padding=3), nl=False)


@compose.command()
@click.option("--json", "as_json", is_flag=True, help="Output events as a stream of json objects.")
@click.argument("services", nargs=-1)
@click.pass_context
def events(ctx: click.Context, as_json: bool, services: tuple[str, ...]) -> None:
    """Receive real time events from containers."""
    session, name, _ = with_project_name(ctx)

    async def follow(client: EngineClient) -> None:
        filters = {**L.project_filter(name), "type": ["container"]}
        async for event in client.events(filters=filters):
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            service = attributes.get(L.SERVICE, "")
            if services and service not in services:
                continue
            line = {"time": formatting.go_time(float(event.get("timeNano", 0)) / 1e9),
                    "type": "container", "action": event.get("Action", ""),
                    "id": (event.get("Actor") or {}).get("ID", ""), "service": service,
                    "attributes": {k: v for k, v in attributes.items()
                                   if not k.startswith("com.docker.compose.")}}  # fmt: skip
            if as_json:
                click.echo(json.dumps(line, separators=(",", ":")))
            else:
                extra = ", ".join(f"{k}={v}" for k, v in sorted(line["attributes"].items()))
                click.echo(f"{line['time']} container {line['action']} {line['id']} ({extra})")

    session.run(follow)
