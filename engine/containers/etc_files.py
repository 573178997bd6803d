"""The /etc/hostname, /etc/hosts and /etc/resolv.conf that a container gets, written into its
directory and bind-mounted, as dockerd does."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path
from typing import Any

from engine.errors import InvalidParameter
from engine.meta.atomic import write_bytes

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


HOST_GATEWAY = "host-gateway"


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` prints it: double quotes, Go escapes, printable runes kept."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _is_ip(text: str) -> bool:
    """Go's net.ParseIP (after strings.TrimSpace): dotted IPv4 or IPv6, no zone."""
    text = text.strip()
    if "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_extra_host(entry: str) -> tuple[str, str]:
    """``(name, address)`` of an ``ExtraHosts`` entry, or dockerd's InvalidParameter.

    The forms are those of ValidateExtraHost: ``name:ip`` split at the first colon (so
    IPv6 addresses need no brackets), ``name=ip``, the address optionally in square
    brackets, and ``host-gateway`` in place of an address.
    """
    name, sep, address = entry.partition("=")
    if not sep:
        name, sep, address = entry.partition(":")
    if not sep or not name or ":" in name:
        raise InvalidParameter(f"bad format for add-host: {go_quote(entry)}")
    if address == HOST_GATEWAY:
        return name, address
    if len(address) > 2 and address[0] == "[" and address[-1] == "]":
        address = address[1:-1]
    if not _is_ip(address):
        raise InvalidParameter(f"invalid IP address in add-host: {go_quote(address)}")
    return name, address


def validate_extra_hosts(extra_hosts: list[str]) -> None:
    """Refuse the first malformed ``ExtraHosts`` entry as dockerd does at create time."""
    for entry in extra_hosts:
        parse_extra_host(entry)


def hosts_content(
    hostname: str, address: str | None, extra_hosts: list[str], host_gateway: str | None
) -> str:
    lines = [HOSTS_HEADER]
    for entry in extra_hosts:
        name, ip = parse_extra_host(entry)
        if ip == HOST_GATEWAY:
            if host_gateway is None:
                raise InvalidParameter("unable to derive the IP value for host-gateway")
            ip = host_gateway
        lines.append(f"{ip}\t{name}\n")
    if address:
        lines.append(f"{address}\t{hostname}\n")
    return "".join(lines)


def _unusable_nameserver(line: str) -> bool:
    """A host nameserver a container off the host network cannot use.

    As libnetwork's TransformForLegacyNw(ipv6=false): loopback resolvers are unreachable
    from the container's namespace, and IPv6 ones too, as no network has IPv6 yet.
    """
    words = line.split()
    if len(words) < 2 or words[0] != "nameserver":
        return False
    try:
        ip = ipaddress.ip_address(words[1].partition("%")[0])
    except ValueError:
        return False
    return ip.version == 6 or ip.is_loopback


EMBEDDED_DNS = "127.0.0.11"


def resolv_conf_content(
    host_config: dict[str, Any], host_network: bool, embedded_dns: bool = False
) -> str:
    """The container's resolv.conf. On user-defined networks the engine's DNS at 127.0.0.11
    answers, and forwards other names to the host's resolvers, as dockerd's does."""
    dns = [EMBEDDED_DNS] if embedded_dns else host_config.get("Dns") or []
    search = host_config.get("DnsSearch") or []
    options = host_config.get("DnsOptions") or []
    try:
        base = HOST_RESOLV_CONF.read_text()
    except OSError:
        base = ""
    # Keywords the user overrides are dropped from the host's file, the rest is kept.
    replaced = set()
    if dns:
        replaced.add("nameserver")
    if search:
        replaced.update(("search", "domain"))
    if options:
        replaced.add("options")
    lines = [ln for ln in base.splitlines() if ln.strip() and ln.split()[0] not in replaced]
    if not host_network:
        lines = [ln for ln in lines if not _unusable_nameserver(ln)]
    lines += [f"nameserver {d}" for d in dns]
    # "." stands for "no search domain" (resolvconf OverrideSearch drops it).
    domains = [d for d in search if d != "."]
    if domains:
        lines.append("search " + " ".join(domains))
    if (
        embedded_dns
        and "ndots:0" not in options
        and not any(o.startswith("ndots:") for o in options)
    ):
        options = ["ndots:0", *options]
    if options:
        lines = [ln for ln in lines if ln.split()[0] != "options"]
        lines.append("options " + " ".join(options))
    if not any(line.split()[0] == "nameserver" for line in lines):
        lines += [f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS]
    return "\n".join(lines) + "\n"


def write_etc_files(
    directory: Path,
    hostname: str,
    host_config: dict[str, Any],
    address: str | None = None,
    host_gateway: str | None = None,
    embedded_dns: bool = False,
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
            resolv_conf_content(host_config, host_network, embedded_dns),
        ),
    }
    for path, content in files.values():
        write_bytes(path, content.encode(), mode=0o644)
    return {target: path for target, (path, _) in files.items()}
