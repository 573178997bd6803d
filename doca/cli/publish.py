"""``-p``/``--publish`` as the docker CLI reads it: ``[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]``,
ports as single numbers or ``LOW-HIGH`` ranges, into ContainerCreate's ``ExposedPorts`` and
``HostConfig.PortBindings``."""

from __future__ import annotations

from typing import Any

import click

PROTOCOLS = ("tcp", "udp", "sctp")


def _range(text: str, what: str, spec: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise click.BadParameter(f"invalid {what} port in {spec!r}") from None
    if not (0 < first <= last <= 65535):
        raise click.BadParameter(f"invalid {what} port range in {spec!r}")
    return first, last


def parse_publish(spec: str) -> list[tuple[str, str, str]]:
    """``(port/proto, host_ip, host_port)`` for each container port one ``-p`` publishes."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise click.BadParameter(f"invalid proto {proto!r} in {spec!r}")
    host_ip, host_port = "", ""
    if body.startswith("["):  # [v6]:host:container
        end = body.find("]")
        if end < 0:
            raise click.BadParameter(f"invalid IP address in {spec!r}")
        host_ip, body = body[1:end], body[end + 2 :]
        host_port, _, container = body.rpartition(":")
    else:
        parts = body.split(":")
        if len(parts) > 3:
            raise click.BadParameter(f"too many colons in {spec!r}")
        container = parts[-1]
        if len(parts) >= 2:
            host_port = parts[-2]
        if len(parts) == 3:
            host_ip = parts[0]
    low, high = _range(container, "container", spec)
    host_low = host_high = 0
    if host_port:
        host_low, host_high = _range(host_port, "host", spec)
        # One container port may take the first free port of a host range; ranges on both
        # sides pair up port by port.
        if low != high and host_high - host_low != high - low:
            raise click.BadParameter(f"port ranges of different sizes in {spec!r}")
    result = []
    for offset, port in enumerate(range(low, high + 1)):
        chosen = host_port if low == high else str(host_low + offset) if host_port else ""
        result.append((f"{port}/{proto}", host_ip, chosen))
    return result


def apply_publish(config: dict[str, Any], specs: tuple[str, ...], publish_all: bool) -> None:
    """Add the ports to a ContainerCreate body."""
    exposed = config.setdefault("ExposedPorts", {})
    bindings = config["HostConfig"].setdefault("PortBindings", {})
    for spec in specs:
        for key, host_ip, host_port in parse_publish(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": host_port})
    if publish_all:
        config["HostConfig"]["PublishAllPorts"] = True
