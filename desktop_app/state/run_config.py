"""What the run dialog asks for, checked and turned into a ``/containers/create`` body — the
same body `docker run -d` sends."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from doca.client import EngineClient

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")

_PORT = re.compile(
    r"""^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?  # optional host IP
        (?P<host>\d*):)?                             # host port, empty for a free one
        (?P<ctr>\d+)(?:/(?P<proto>tcp|udp|sctp))?$""",
    re.VERBOSE,
)


class RunConfigError(ValueError):
    """Something the user typed that cannot be run; the message says what and where."""


@dataclass
class RunRequest:
    image: str
    name: str = ""
    command: str = ""
    env_text: str = ""
    ports_text: str = ""
    restart_policy: str = "no"
    labels: dict[str, str] = field(default_factory=dict)

    def to_create_config(self) -> dict[str, Any]:
        """The ``/containers/create`` body, or ``RunConfigError`` for bad input."""
        image = self.image.strip()
        if not image:
            raise RunConfigError("choose an image to run")
        if self.restart_policy not in RESTART_POLICIES:
            raise RunConfigError(f"unknown restart policy {self.restart_policy!r}")
        try:
            cmd = shlex.split(self.command)
        except ValueError as exc:
            raise RunConfigError(f"command: {exc}") from exc
        exposed, bindings = parse_ports(self.ports_text)
        host_config: dict[str, Any] = {
            "PortBindings": bindings,
            "RestartPolicy": {"Name": "" if self.restart_policy == "no" else self.restart_policy},
        }
        config: dict[str, Any] = {
            "Image": image,
            "Env": parse_env(self.env_text),
            "ExposedPorts": exposed,
            "Labels": dict(self.labels),
            "HostConfig": host_config,
        }
        if cmd:
            config["Cmd"] = cmd
        return config


def parse_env(text: str) -> list[str]:
    """``KEY=value`` lines (blank lines and ``#`` comments skipped)."""
    env = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise RunConfigError(f"environment line {number}: expected KEY=value, got {line!r}")
        env.append(line)
    return env


def parse_ports(text: str) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """`-p` specs separated by commas or spaces: ``8080:80``, ``127.0.0.1:8080:80/udp``,
    ``:80`` or ``80`` (both on a free host port, as `docker run -p 80` does).
    Returns (ExposedPorts, PortBindings)."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in text.replace(",", " ").split():
        match = _PORT.match(spec)
        if match is None:
            raise RunConfigError(f"port mapping {spec!r}: expected [ip:]host:container[/proto]")
        port = f"{match['ctr']}/{match['proto'] or 'tcp'}"
        exposed[port] = {}
        ip = (match["ip"] or "").strip("[]")
        bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": match["host"] or ""})
    return exposed, bindings


async def run_container(client: EngineClient, request: RunRequest) -> str:
    """Create and start the container, as `docker run -d` does; its ID."""
    config = request.to_create_config()
    container_id = await client.containers.create(config, name=request.name.strip() or None)
    await client.containers.start(container_id)
    return container_id
