"""The /etc/hostname, /etc/hosts and /etc/resolv.conf that a container gets, written into its
directory and bind-mounted, as dockerd does."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter
from engine.meta.atomic import write_bytes

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
_LOCAL_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S+|::1)\s*$", re.M)

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def hosts_content(
    hostname: str, address: str | None, extra_hosts: list[str], host_gateway: str | None
) -> str:
    lines = [HOSTS_HEADER]
    for entry in extra_hosts:
        name, sep, ip = entry.partition(":") if "=" not in entry else entry.partition("=")
        if not sep or not name or not ip:
            raise InvalidParameter(f"invalid IP address in add-host: {entry!r}")
        if ip == "host-gateway":
            if host_gateway is None:
                raise InvalidParameter("unable to derive the IP value for host-gateway")
            ip = host_gateway
        lines.append(f"{ip.strip('[]')}\t{name}\n")
    if address:
        lines.append(f"{address}\t{hostname}\n")
    return "".join(lines)


def resolv_conf_content(host_config: dict[str, Any], host_network: bool) -> str:
    dns = host_config.get("Dns") or []
    search = host_config.get("DnsSearch") or []
    options = host_config.get("DnsOptions") or []
    try:
        base = HOST_RESOLV_CONF.read_text()
    except OSError:
        base = ""
    if not host_network:
        # The host's loopback resolvers are unreachable from the container's namespace.
        base = _LOCAL_NAMESERVER.sub("", base)
    # Keywords the user overrides are dropped from the host's file, the rest is kept.
    replaced = set()
    if dns:
        replaced.add("nameserver")
    if search:
        replaced.update(("search", "domain"))
    if options:
        replaced.add("options")
    lines = [ln for ln in base.splitlines() if ln.strip() and ln.split()[0] not in replaced]
    lines += [f"nameserver {d}" for d in dns]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    if not any(line.startswith("nameserver") for line in lines):
        lines += [f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS]
    return "\n".join(lines) + "\n"


def write_etc_files(
    directory: Path,
    hostname: str,
    host_config: dict[str, Any],
    address: str | None = None,
    host_gateway: str | None = None,
) -> dict[str, Path]:
    """Write the three files; return their paths keyed by where they go in the container."""
    host_network = host_config.get("NetworkMode") == "host"
    hosts = hosts_content(hostname, address, host_config.get("ExtraHosts") or [], host_gateway)
    if host_network:
        with contextlib.suppress(OSError):
            hosts = HOST_HOSTS.read_text() + "".join(hosts.splitlines(True)[6:])
    files = {
        "/etc/hostname": (directory / "hostname", f"{hostname}\n"),
        "/etc/hosts": (directory / "hosts", hosts),
        "/etc/resolv.conf": (
            directory / "resolv.conf",
            resolv_conf_content(host_config, host_network),
        ),
    }
    for path, content in files.values():
        write_bytes(path, content.encode(), mode=0o644)
    return {target: path for target, (path, _) in files.items()}
