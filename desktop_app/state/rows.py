"""Pure translators from Engine API list rows to what the panels show, as `docker ps`,
`docker images` and `docker volume ls` would show them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.state.signatures import Verdict

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")

# Which container verbs make sense in which state (the engine answers 304/409 otherwise).
_ACTIONS_BY_STATE: dict[str, frozenset[str]] = {
    "created": frozenset({"start", "remove"}),
    "running": frozenset({"stop", "restart", "pause", "kill", "remove"}),
    "paused": frozenset({"unpause", "stop", "kill", "remove"}),
    "restarting": frozenset({"stop", "kill", "remove"}),
    "exited": frozenset({"start", "restart", "remove"}),
    "dead": frozenset({"remove"}),
    "removing": frozenset(),
}


@dataclass(frozen=True)
class ContainerRow:
    id: str
    name: str
    image: str
    state: str
    status: str  # the engine's text, e.g. "Up 3 minutes (healthy)"
    summary: str  # the same without the time, which would go stale: "Running (healthy)"
    ports: str
    created: str
    project: str
    service: str
    urls: tuple[str, ...] = ()  # http:// addresses of its published TCP ports

    @property
    def sort_key(self) -> tuple[bool, str, str]:
        """Compose projects first, grouped and by name; then lone containers by name."""
        return (self.project == "", self.project, self.name)


@dataclass(frozen=True)
class ImageRow:
    key: str  # what to remove or run: the repo:tag, or the ID of an untagged image
    repo_tag: str
    id: str
    size: str
    in_use: bool
    created: str
    users: tuple[str, ...] = ()  # names of the containers made from it
    signature: str = ""  # the signature badge, once checked against the trusted keys
    signature_detail: str = ""


@dataclass(frozen=True)
class VolumeRow:
    name: str
    driver: str
    mountpoint: str
    users: tuple[str, ...] = ()  # names of the containers that mount it


def human_size(size: int | float) -> str:
    """Sizes as the docker CLI prints them: decimal units, three significant digits."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if round(value, 2) < 1000:
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}PB"


def short_id(image_or_container_id: str) -> str:
    return image_or_container_id.removeprefix("sha256:")[:12]


def format_created(timestamp: int | float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def format_ports(ports: Iterable[dict[str, Any]]) -> str:
    """``0.0.0.0:8080->80/tcp, 443/tcp`` as in `docker ps`."""
    shown: list[str] = []
    for port in ports:
        private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        if port.get("PublicPort"):
            text = f"{port.get('IP') or '0.0.0.0'}:{port['PublicPort']}->{private}"
        else:
            text = private
        if text not in shown:
            shown.append(text)
    return ", ".join(shown)


def port_urls(ports: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """Where a browser reaches the container's published TCP ports from this machine; a port
    published on every address is opened through localhost."""
    urls: list[str] = []
    for port in ports:
        if port.get("Type", "tcp") != "tcp" or not port.get("PublicPort"):
            continue
        host = str(port.get("IP") or "")
        if host in ("", "0.0.0.0", "::"):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        url = f"http://{host}:{port['PublicPort']}/"
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def container_row(row: dict[str, Any]) -> ContainerRow:
    labels = row.get("Labels") or {}
    names = row.get("Names") or [""]
    return ContainerRow(
        id=str(row.get("Id", "")),
        name=str(names[0]).lstrip("/"),
        image=str(row.get("Image", "")),
        state=str(row.get("State", "")),
        status=str(row.get("Status", "")),
        summary=status_summary(str(row.get("State", "")), str(row.get("Status", ""))),
        ports=format_ports(row.get("Ports") or []),
        created=format_created(row.get("Created")),
        project=str(labels.get(COMPOSE_PROJECT, "")),
        service=str(labels.get(COMPOSE_SERVICE, "")),
        urls=port_urls(row.get("Ports") or []),
    )


def status_summary(state: str, status: str) -> str:
    """A status that stays true between refreshes (lists are reloaded on events, not on a
    timer, so "Up 3 seconds" would still say so an hour later)."""
    if state == "running":
        health = _HEALTH.search(status)
        return "Running" + (f" ({health[1]})" if health else "")
    if state == "exited":
        code = _EXIT_CODE.match(status)
        return f"Exited ({code[1]})" if code else "Exited"
    return state.capitalize()


def container_rows(rows: Iterable[dict[str, Any]]) -> list[ContainerRow]:
    return sorted((container_row(row) for row in rows), key=lambda r: r.sort_key)


def allowed_actions(state: str) -> frozenset[str]:
    """The container verbs that make sense for a container in ``state``."""
    return _ACTIONS_BY_STATE.get(state, frozenset({"remove"}))


def images_in_use(containers: Iterable[dict[str, Any]]) -> set[str]:
    return {str(row["ImageID"]) for row in containers if row.get("ImageID")}


def _name(container: dict[str, Any]) -> str:
    names = container.get("Names") or [""]
    return str(names[0]).lstrip("/") or short_id(str(container.get("Id", "")))


def image_users(containers: Iterable[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Image ID → the names of the containers made from it."""
    users: dict[str, list[str]] = {}
    for row in containers:
        if row.get("ImageID"):
            users.setdefault(str(row["ImageID"]), []).append(_name(row))
    return {image: tuple(sorted(names)) for image, names in users.items()}


def volume_users(containers: Iterable[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Volume name → the names of the containers that mount it."""
    users: dict[str, set[str]] = {}
    for row in containers:
        for mount in row.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), set()).add(_name(row))
    return {volume: tuple(sorted(names)) for volume, names in users.items()}


def image_rows(
    images: Iterable[dict[str, Any]],
    in_use: set[str],
    users: dict[str, tuple[str, ...]] | None = None,
    signatures: Mapping[str, Verdict] | None = None,
) -> list[ImageRow]:
    """One row per repo:tag (an untagged image gets one ``<none>:<none>`` row), by name;
    ``signatures`` are the verdicts by image ID."""
    users = users or {}
    signatures = signatures or {}
    out: list[ImageRow] = []
    for image in images:
        image_id = str(image.get("Id", ""))
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        for key, repo_tag in [(t, t) for t in tags] or [(image_id, "<none>:<none>")]:
            out.append(
                ImageRow(
                    key=key,
                    repo_tag=repo_tag,
                    id=short_id(image_id),
                    size=human_size(image.get("Size") or 0),
                    in_use=image_id in in_use,
                    created=format_created(image.get("Created")),
                    users=users.get(image_id, ()),
                    signature=verdict.badge if (verdict := signatures.get(image_id)) else "",
                    signature_detail=verdict.detail if verdict else "",
                )
            )
    return sorted(out, key=lambda r: (r.repo_tag.startswith("<none>"), r.repo_tag, r.key))


def volume_rows(
    volumes: Iterable[dict[str, Any]], users: dict[str, tuple[str, ...]] | None = None
) -> list[VolumeRow]:
    users = users or {}
    rows = (
        VolumeRow(
            name=str(v.get("Name", "")),
            driver=str(v.get("Driver", "")),
            mountpoint=str(v.get("Mountpoint", "")),
            users=users.get(str(v.get("Name", "")), ()),
        )
        for v in volumes
    )
    return sorted(rows, key=lambda r: r.name)
