"""`docker ps` output: the fields its ``--format`` templates see (formatter.ContainerContext),
its default table, ``-q``, ``raw`` and ``json``, and docker's PORTS column."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from doca.cli import formatting
from doca.cli import output_format as fmt
from doca.cli.registry_commands import parse_reference
from doca.cli.template_lex import go_quote
from doca.cli.templates import Template, TemplateError

DEFAULT_TABLE = (
    "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}"
    "\\t{{.Names}}"
)
RAW = """container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
"""
HEADER = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
    "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}  # fmt: skip
FORMAT_AND_QUIET_WARNING = (
    "WARNING: Ignoring custom format, because both --format and --quiet are set."
)


def container_format(source: str, quiet: bool, size: bool) -> str:
    """NewContainerFormat: the template behind ``--format`` (or its absence)."""
    if source in (fmt.TABLE, ""):
        if quiet:
            return fmt.QUIET_TEMPLATE
        return DEFAULT_TABLE + ("\\t{{.Size}}" if size else "")
    if source == fmt.RAW:
        if quiet:
            return "container_id: {{.ID}}"
        return RAW + ("size: {{.Size}}\\n" if size else "")
    return fmt.QUIET_TEMPLATE if quiet else source


def _join_host_port(host: str, port: object) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port_group(key: str, first: int, last: int) -> str:
    parts = key.split("/")
    ip, kind = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{_join_host_port(ip, group)}->{group}"
    return f"{group}/{kind}"


def displayable_ports(ports: Iterable[Mapping[str, Any]]) -> str:
    """DisplayablePorts: consecutive ports grouped (``8000-8002/tcp``), published ones as
    ``0.0.0.0:8080->80/tcp`` after the rest."""
    ordered = sorted(
        ports,
        key=lambda p: (int(p.get("PrivatePort") or 0), str(p.get("IP") or ""),
                       int(p.get("PublicPort") or 0), str(p.get("Type") or "")),
    )  # fmt: skip
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    mappings: list[str] = []
    for port in ordered:
        current = int(port.get("PrivatePort") or 0)
        kind = str(port.get("Type") or "")
        ip = str(port.get("IP") or "")
        key = kind
        if ip:
            public = int(port.get("PublicPort") or 0)
            if public != current:
                mappings.append(f"{_join_host_port(ip, public)}->{current}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(_port_group(key, *group))
            # A key seen again keeps its first place, as a Go map's key list does.
            groups[key] = [current, current]
    result.extend(_port_group(key, *group) for key, group in groups.items())
    return ", ".join(result + mappings)


def _familiar_image(image: str) -> str | None:
    """The image reference without a digest, as `docker ps` shows it truncated."""
    try:
        ref = parse_reference(image)
    except ValueError:
        return None
    return f"{ref.familiar_name}:{ref.tag}" if ref.tag else ref.familiar_name


class ContainerContext(fmt.FormatterContext):
    """One entry of the engine's container list, as `docker ps` templates see it."""

    go_type = "*formatter.ContainerContext"

    def __init__(self, container: Mapping[str, Any], trunc: bool = True, now: float = 0.0):
        self.c = container
        self.trunc = trunc
        self.now = now or time.time()
        self.fields_used: set[str] = set()

    def ID(self) -> str:
        identifier = str(self.c.get("Id") or "")
        return formatting.truncate_id(identifier) if self.trunc else identifier

    def Names(self) -> str:
        names = [str(name)[1:] for name in self.c.get("Names") or []]
        if self.trunc:
            # Names of legacy links ("other/alias") are left out.
            names = next(([name] for name in names if "/" not in name), names)
        return ",".join(names)

    def Image(self) -> str:
        image = str(self.c.get("Image") or "")
        if not image:
            return "<no image>"
        if self.trunc:
            short = formatting.truncate_id(str(self.c.get("ImageID") or ""))
            if short == formatting.truncate_id(image):
                return short
            return _familiar_image(image) or image
        return image

    def Command(self) -> str:
        command = str(self.c.get("Command") or "")
        return go_quote(formatting.ellipsis(command, 20) if self.trunc else command)

    def CreatedAt(self) -> str:
        return formatting.go_time(float(self.c.get("Created") or 0))

    def RunningFor(self) -> str:
        return formatting.time_ago(float(self.c.get("Created") or 0), self.now)

    def Platform(self) -> object:
        descriptor = self.c.get("ImageManifestDescriptor") or {}
        return descriptor.get("platform") if isinstance(descriptor, Mapping) else None

    def Ports(self) -> str:
        return displayable_ports(self.c.get("Ports") or [])

    def State(self) -> str:
        return str(self.c.get("State") or "")

    def Status(self) -> str:
        return str(self.c.get("Status") or "")

    def Size(self) -> str:
        self.fields_used.add("Size")
        size_rw = formatting.human_size(float(self.c.get("SizeRw") or 0))
        root = float(self.c.get("SizeRootFs") or 0)
        return f"{size_rw} (virtual {formatting.human_size(root)})" if root > 0 else size_rw

    def Labels(self) -> str:
        labels = self.c.get("Labels") or {}
        return ",".join(sorted(f"{key}={value}" for key, value in labels.items()))

    def Label(self, name: str) -> str:
        return str((self.c.get("Labels") or {}).get(name, ""))

    def Mounts(self) -> str:
        names = []
        for mount in self.c.get("Mounts") or []:
            name = str(mount.get("Name") or mount.get("Source") or "")
            names.append(formatting.ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    def LocalVolumes(self) -> str:
        mounts = self.c.get("Mounts") or []
        return str(sum(1 for mount in mounts if mount.get("Driver") == "local"))

    def Networks(self) -> str:
        settings = self.c.get("NetworkSettings") or {}
        return ",".join(sorted((settings.get("Networks") or {}).keys()))


def wants_size(source: str, quiet: bool) -> bool:
    """Whether a ``--format`` uses ``.Size`` (so the list must ask for sizes), checking the
    template as `docker ps` does before it asks the engine: FormatError with its wording."""
    if not source:
        return False
    try:
        template = Template(source)
    except TemplateError as error:
        raise fmt.FormatError(f"failed to parse template: {error}") from None
    probe = ContainerContext({}, now=1.0)
    _, failure = template.render_partial(probe)
    if failure is not None:
        raise fmt.FormatError(f"failed to execute template: {failure}")
    return not quiet and "Size" in probe.fields_used


def render(
    containers: Sequence[Mapping[str, Any]],
    source: str = "",
    quiet: bool = False,
    no_trunc: bool = False,
    size: bool = False,
    now: float | None = None,
) -> str:
    """What `docker ps` prints for the engine's container list; FormatError for a bad format."""
    moment = now or time.time()
    rows = [ContainerContext(c, not no_trunc, moment) for c in containers]
    return fmt.render(container_format(source, quiet, size), rows, HEADER)
