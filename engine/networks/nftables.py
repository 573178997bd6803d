"""The engine's own nftables table: DNAT for published ports, masquerade for containers' outbound
traffic, and the forward rules that keep bridges apart, as dockerd's iptables rules do.

The table is rebuilt whole from the engine's state and replaced in one ``nft -f`` transaction,
so the kernel never holds half of it and stale rules never pile up. One ``inet`` table serves
IPv4 and IPv6 alike. Interface names and addresses travel as JSON values, never spliced into nft
syntax, so a hostile bridge name cannot smuggle in rules of its own.

Unlike dockerd, ports published on loopback are DNAT'ed too: the bridge has ``route_localnet``
set, so ``127.0.0.1:<port>`` on the host reaches the container without a userland proxy.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidParameter, SystemError_

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Expr = dict[str, Any]

FAMILY = "inet"  # nat in the inet family needs Linux >= 5.2

# Chain priorities by nft's names for them; nft 1.0.6's JSON parser takes numbers only.
_DSTNAT = -100
_SRCNAT = 100
_FILTER = 0

_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_IFNAMSIZ = 16
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")
_TIMEOUT = 30.0


@dataclass(frozen=True)
class BridgeRules:
    """What the firewall needs to know of one engine bridge."""

    bridge: str  # the Linux bridge, e.g. "doca0"
    subnets: tuple[Network, ...]
    internal: bool = False  # no traffic in or out except between the bridge's own ports
    icc: bool = True  # inter-container traffic on the same bridge


@dataclass(frozen=True)
class PortRule:
    """One published port: host_ip:host_port → container_ip:container_port."""

    proto: str  # "tcp" | "udp" | "sctp"
    host_ip: Address | None  # None: every local address of the host
    host_port: int
    container_ip: Address
    container_port: int
    bridge: str


# -- pure translation ---------------------------------------------------------------------------


def ruleset(
    table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]
) -> dict[str, Any]:
    """The nft JSON batch that replaces the whole content of ``table`` in one transaction."""
    _check_table(table)
    for bridge in bridges:
        _check_bridge_name(bridge.bridge)
    for port in ports:
        _check_port(port)
    commands: list[Expr] = [*_recreate(table)]
    commands += [
        _chain(table, "prerouting", "nat", "prerouting", _DSTNAT),
        _chain(table, "output", "nat", "output", _DSTNAT),
        _chain(table, "postrouting", "nat", "postrouting", _SRCNAT),
        _chain(table, "forward", "filter", "forward", _FILTER),
    ]
    for port in ports:
        commands.append(_rule(table, "prerouting", _dnat(port, from_host=False)))
        # IPv6 has no route_localnet: a packet from ::1 cannot leave through the bridge, so
        # ::1 stays with whatever listens on the host, as dockerd leaves it.
        if port.host_ip != _LOOPBACK_V6:
            commands.append(_rule(table, "output", _dnat(port, from_host=True)))
    commands += [_rule(table, "postrouting", expr) for expr in _postrouting(bridges)]
    commands += [_rule(table, "forward", expr) for expr in _forward(bridges)]
    return {"nftables": commands}


def delete_table(table: str) -> dict[str, Any]:
    """The batch that removes ``table``; adding it first makes an absent table no error."""
    _check_table(table)
    ref = {"table": {"family": FAMILY, "name": table}}
    return {"nftables": [{"add": ref}, {"delete": ref}]}


def _recreate(table: str) -> list[Expr]:
    # Delete and add rather than flush: flushing keeps chains and sets that a newer ruleset
    # may no longer have.
    ref = {"table": {"family": FAMILY, "name": table}}
    return [{"add": ref}, {"delete": ref}, {"add": ref}]


def _chain(table: str, name: str, kind: str, hook: str, priority: int) -> Expr:
    return {
        "add": {
            "chain": {
                "family": FAMILY,
                "table": table,
                "name": name,
                "type": kind,
                "hook": hook,
                "prio": priority,
                # accept: the host's own traffic is none of the engine's business
                "policy": "accept",
            }
        }
    }


def _rule(table: str, chain: str, expr: list[Expr]) -> Expr:
    return {"add": {"rule": {"family": FAMILY, "table": table, "chain": chain, "expr": expr}}}


def _dnat(port: PortRule, from_host: bool) -> list[Expr]:
    """Match a published port's packets and DNAT them to the container."""
    ip = _ip(port.container_ip)
    expr: list[Expr] = []
    if port.host_ip is None:
        expr.append(_match(_meta("nfproto"), "ipv4" if ip == "ip" else "ipv6"))
        expr.append(_match({"fib": {"result": "type", "flags": ["daddr"]}}, "local"))
        if from_host and ip == "ip6":
            expr.append(_match(_payload("ip6", "daddr"), str(_LOOPBACK_V6), "!="))
    else:
        expr.append(_match(_payload(ip, "daddr"), str(port.host_ip)))
    expr.append(_match(_payload(port.proto, "dport"), port.host_port))
    expr.append(
        {"dnat": {"family": ip, "addr": str(port.container_ip), "port": port.container_port}}
    )
    return expr


def _postrouting(bridges: Sequence[BridgeRules]) -> list[list[Expr]]:
    rules: list[list[Expr]] = []
    for bridge in bridges:
        name = bridge.bridge
        if not bridge.internal:
            for subnet in bridge.subnets:
                source = _match(_payload(_ip(subnet), "saddr"), _prefix(subnet))
                rules.append([source, _match(_meta("oifname"), name, "!="), _masquerade()])
                # A container reaching a published port through a host address, DNAT'ed back
                # onto its own bridge: without this the reply would skip the host's conntrack.
                rules.append(
                    [
                        _match(_meta("oifname"), name),
                        source,
                        _match({"ct": {"key": "status"}}, "dnat", "in"),
                        _masquerade(),
                    ]
                )
        if any(subnet.version == 4 for subnet in bridge.subnets):
            # Loopback DNAT: the container must answer the bridge, not 127.0.0.1.
            rules.append(
                [
                    _match(_meta("oifname"), name),
                    _match(_payload("ip", "saddr"), _prefix(_LOOPBACK_V4)),
                    _masquerade(),
                ]
            )
    return rules


def _forward(bridges: Sequence[BridgeRules]) -> list[list[Expr]]:
    # Every drop comes before every accept: one bridge's accept must not let through what
    # another bridge's isolation forbids.
    names = [bridge.bridge for bridge in bridges]
    drops: list[list[Expr]] = []
    accepts: list[list[Expr]] = []
    for bridge in bridges:
        name = bridge.bridge
        if bridge.internal:
            drops.append([_iif(name), _oif(name, "!="), _drop()])
            drops.append([_oif(name), _iif(name, "!="), _drop()])
        others = [other for other in names if other != name]
        if others:
            drops.append([_iif(name), _match(_meta("oifname"), {"set": others}), _drop()])
        if not bridge.icc:
            drops.append([_iif(name), _oif(name), _drop()])
        established = _match({"ct": {"key": "state"}}, ["established", "related"], "in")
        accepts.append([_oif(name), established, _accept()])
    for name in names:
        accepts.append([_iif(name), _accept()])
        accepts.append([_oif(name), _accept()])
    return drops + accepts


def _match(left: Expr, right: Any, op: str = "==") -> Expr:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> Expr:
    return {"meta": {"key": key}}


def _payload(protocol: str, field: str) -> Expr:
    return {"payload": {"protocol": protocol, "field": field}}


def _iif(name: str, op: str = "==") -> Expr:
    return _match(_meta("iifname"), name, op)


def _oif(name: str, op: str = "==") -> Expr:
    return _match(_meta("oifname"), name, op)


def _prefix(network: Network) -> Expr:
    return {"prefix": {"addr": str(network.network_address), "len": network.prefixlen}}


def _ip(value: Address | Network) -> str:
    return "ip" if value.version == 4 else "ip6"


def _masquerade() -> Expr:
    return {"masquerade": None}


def _accept() -> Expr:
    return {"accept": None}


def _drop() -> Expr:
    return {"drop": None}


# -- validation ---------------------------------------------------------------------------------


def _check_table(table: str) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise InvalidParameter(f"invalid nftables table name {table!r}")


def _check_bridge_name(name: str) -> None:
    """The kernel's rules for interface names, plus what nft reads as more than a name:
    a trailing ``*`` is a wildcard, ``\\`` an escape, a leading ``@`` a set reference."""
    if (
        not name
        or len(name) >= _IFNAMSIZ
        or name in (".", "..")
        or any(c.isspace() or not c.isprintable() or c in "/:*\\" for c in name)
        or name.startswith("@")
    ):
        raise InvalidParameter(f"invalid bridge name {name!r}")


def _check_port(port: PortRule) -> None:
    _check_bridge_name(port.bridge)
    if port.proto not in _PROTOCOLS:
        raise InvalidParameter(f"invalid protocol {port.proto!r}")
    for number in (port.host_port, port.container_port):
        if not 0 < number < 65536:
            raise InvalidParameter(f"invalid port {number}")
    if port.host_ip is not None and port.host_ip.version != port.container_ip.version:
        raise InvalidParameter(
            f"cannot publish {port.host_ip} to {port.container_ip}: address families differ"
        )


# -- the side effect ----------------------------------------------------------------------------


class Nftables:
    """Runs ``nft``: the one place the engine changes the kernel's firewall. Every method
    blocks; call them from a worker thread."""

    def __init__(self, binary: str = "nft", netns: str | None = None) -> None:
        self.binary = binary
        self.netns = netns  # a network namespace file to run in; None: the engine's own

    @classmethod
    def probe(cls, binary: str = "nft", netns: str | None = None) -> Nftables | None:
        """An Nftables if ``nft`` exists, speaks JSON and the kernel accepts every kind of rule
        the engine writes (checked without committing anything); None otherwise."""
        path = shutil.which(binary)
        if path is None:
            return None
        nft = cls(path, netns)
        subnet = ipaddress.IPv4Network("10.255.255.0/24")
        sample = ruleset(
            "doca_probe",
            [BridgeRules("doca-probe", (subnet,), icc=False)],
            [PortRule("tcp", None, 1, subnet.network_address + 2, 1, "doca-probe")],
        )
        try:
            result = nft._run(["-c", "-j", "-f", "-"], json.dumps(sample))
        except SystemError_:
            return None
        return nft if result.returncode == 0 else None

    def apply(self, batch: dict[str, Any]) -> None:
        """Load a batch in one transaction: all of it or, on error, none of it."""
        result = self._run(["-j", "-f", "-"], json.dumps(batch))
        if result.returncode != 0:
            raise SystemError_(f"nft failed: {_stderr(result)}")

    def list_table(self, table: str) -> dict[str, Any] | None:
        """``nft -j list table inet <table>`` parsed, or None if there is no such table."""
        _check_table(table)
        result = self._run(["-j", "list", "table", FAMILY, table])
        if result.returncode != 0:
            if "No such file or directory" in result.stderr:
                return None
            raise SystemError_(f"nft failed: {_stderr(result)}")
        try:
            listing: dict[str, Any] = json.loads(result.stdout)
        except ValueError as exc:
            raise SystemError_(f"nft printed no JSON: {exc}") from exc
        return listing

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, *args]
        if self.netns is not None:
            argv = ["nsenter", f"--net={self.netns}", *argv]
        try:
            return subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SystemError_(f"cannot run nft: {exc}") from exc


def _stderr(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip() or f"exit status {result.returncode}"
