"""`docker compose ps`: a project's containers as Compose's formatter shows them — its default
table, Go templates (the fields of `docker ps` plus Name, Service and Project) and one JSON
object per line."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from doca.cli import output_format as fmt
from doca.cli.ps_format import HEADER, ContainerContext
from doca.compose import labels as L

DEFAULT_TABLE = (
    "table {{.Name}}\\t{{.Image}}\\t{{.Command}}\\t{{.Service}}\\t{{.RunningFor}}\\t{{.Status}}"
    "\\t{{.Ports}}"
)
COMPOSE_HEADER = {**HEADER, "Name": "NAME", "Project": "PROJECT", "Service": "SERVICE",
                  "Health": "HEALTH", "ExitCode": "EXIT CODE"}  # fmt: skip


class ComposeContainerContext(ContainerContext):
    go_type = "*formatter.ContainerContext"

    def Name(self) -> str:
        return str((self.c.get("Names") or [""])[0]).lstrip("/")

    def Image(self) -> str:
        return str(self.c.get("Image") or "")

    def Service(self) -> str:
        return str((self.c.get("Labels") or {}).get(L.SERVICE, ""))

    def Project(self) -> str:
        return str((self.c.get("Labels") or {}).get(L.PROJECT, ""))


def render_ps(
    containers: Sequence[Mapping[str, Any]], source: str = "table", no_trunc: bool = False
) -> str:
    """What `docker compose ps` prints; FormatError for a bad template."""
    now = time.time()
    rows = [ComposeContainerContext(c, not no_trunc, now) for c in containers]
    text = DEFAULT_TABLE if source in ("", fmt.TABLE) else source
    return fmt.render(text, rows, COMPOSE_HEADER)


def ps_json(container: dict[str, Any]) -> dict[str, Any]:
    """One container as `docker compose ps --format json` prints it."""
    labels = container.get("Labels") or {}
    ports = container.get("Ports") or []
    publishers = [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort", 0),
                   "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type", "tcp")}
                  for p in ports]  # fmt: skip
    shown = ", ".join(
        f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
        if p["PublishedPort"] else f"{p['TargetPort']}/{p['Protocol']}" for p in publishers
    )  # fmt: skip
    name = str((container.get("Names") or [""])[0]).lstrip("/")
    return {
        "Command": json.dumps(container.get("Command", "")),
        "CreatedAt": container.get("Created", 0),
        "ID": container["Id"],
        "Image": container.get("Image", ""),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Name": name,
        "Names": name,
        "Project": labels.get(L.PROJECT, ""),
        "Publishers": publishers,
        "Ports": shown,
        "Service": labels.get(L.SERVICE, ""),
        "State": container.get("State", ""),
        "Status": container.get("Status", ""),
        "Health": "",
        "ExitCode": 0,
    }
