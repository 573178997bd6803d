"""``linux.resources``, ``linux.devices`` and ``process.rlimits`` of a container's OCI spec.

Follows dockerd (``WithResources``, ``WithDevices``, ``withRlimits``): values left at 0 are
left out, NanoCpus becomes a CFS quota over a 100 ms period, and the device cgroup starts
from Docker's deny-all-but-the-basics list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidParameter

if TYPE_CHECKING:
    from engine.runtime.oci_spec import SpecInput

CFS_PERIOD_US = 100_000


@dataclass(frozen=True)
class DeviceMapping:
    """A host device node exposed in the container; the caller stats the host path."""

    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"
    type: str = "c"  # "c" or "b"
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0

    def to_oci(self) -> dict[str, Any]:
        return {
            "path": self.path_in_container,
            "type": self.type,
            "major": self.major,
            "minor": self.minor,
            "fileMode": self.file_mode,
            "uid": self.uid,
            "gid": self.gid,
        }

    def cgroup_rule(self) -> dict[str, Any]:
        return {
            "allow": True,
            "type": self.type,
            "major": self.major,
            "minor": self.minor,
            "access": self.permissions,
        }


@dataclass(frozen=True)
class Ulimit:
    """``--ulimit name=soft:hard``; ``name`` without the RLIMIT_ prefix ("nofile")."""

    name: str
    soft: int
    hard: int


def _rule(allow: bool, type_: str, major: int, minor: int) -> dict[str, Any]:
    return {"allow": allow, "type": type_, "major": major, "minor": minor, "access": "rwm"}


#: Docker's device cgroup: deny everything, then allow null, zero, full, urandom, random,
#: tty, console (ptmx and /dev/pts/* the runtime adds itself) and deny fuse explicitly.
DEFAULT_DEVICE_RULES: tuple[dict[str, Any], ...] = (
    {"allow": False, "access": "rwm"},
    _rule(True, "c", 1, 5),
    _rule(True, "c", 1, 3),
    _rule(True, "c", 1, 9),
    _rule(True, "c", 1, 8),
    _rule(True, "c", 5, 0),
    _rule(True, "c", 5, 1),
    _rule(False, "c", 10, 229),
)

_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def parse_device_cgroup_rule(rule: str) -> dict[str, Any]:
    """``--device-cgroup-rule 'c 42:* rmw'`` → an allow entry of ``linux.resources.devices``."""
    match = _CGROUP_RULE.match(rule)
    if match is None:
        raise InvalidParameter(f"invalid device cgroup rule format: '{rule}'")
    kind, major, minor, access = match.groups()
    return {
        "allow": True,
        "type": kind,
        "major": -1 if major == "*" else int(major),
        "minor": -1 if minor == "*" else int(minor),
        "access": access,
    }


def devices_and_rules(
    devices: Sequence[DeviceMapping],
    cgroup_rules: Sequence[str],
    host_devices: Sequence[DeviceMapping],
    *,
    privileged: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``linux.devices``, ``linux.resources.devices``) of a container."""
    rules = [dict(r) for r in DEFAULT_DEVICE_RULES]
    if privileged:
        # Every host device is already there; a mapping only matters under another name.
        nodes = [d.to_oci() for d in host_devices]
        nodes += [d.to_oci() for d in devices if d.path_on_host != d.path_in_container]
        rules.append({"allow": True, "access": "rwm"})
        return nodes, rules
    rules += [d.cgroup_rule() for d in devices]
    rules += [parse_device_cgroup_rule(r) for r in cgroup_rules]
    return [d.to_oci() for d in devices], rules


def rlimits(ulimits: Sequence[Ulimit], defaults: Sequence[Ulimit]) -> list[dict[str, Any]]:
    """``process.rlimits``: the container's ulimits, then the daemon defaults it lacks."""
    names = {u.name for u in ulimits}
    merged = [*ulimits, *(u for u in defaults if u.name not in names)]
    return [{"type": "RLIMIT_" + u.name.upper(), "hard": u.hard, "soft": u.soft} for u in merged]


def _memory(inp: SpecInput) -> dict[str, Any]:
    memory: dict[str, Any] = {}
    if inp.memory > 0:
        memory["limit"] = inp.memory
    if inp.memory_reservation > 0:
        memory["reservation"] = inp.memory_reservation
    if inp.memory_swap > 0:
        memory["swap"] = inp.memory_swap
    if inp.oom_kill_disable:
        memory["disableOOMKiller"] = True
    return memory


def _cpu(inp: SpecInput) -> dict[str, Any]:
    if inp.cpu_shares < 0:
        raise InvalidParameter(
            f"invalid CPU shares ({inp.cpu_shares}): value must be a positive integer"
        )
    cpu: dict[str, Any] = {}
    if inp.cpu_shares:
        cpu["shares"] = inp.cpu_shares
    if inp.nano_cpus > 0:
        cpu["quota"] = inp.nano_cpus * CFS_PERIOD_US // 1_000_000_000
        cpu["period"] = CFS_PERIOD_US
    if inp.cpu_period:
        cpu["period"] = inp.cpu_period
    if inp.cpu_quota:
        cpu["quota"] = inp.cpu_quota
    if inp.cpuset_cpus:
        cpu["cpus"] = inp.cpuset_cpus
    if inp.cpuset_mems:
        cpu["mems"] = inp.cpuset_mems
    return cpu


def resources(inp: SpecInput, device_rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``linux.resources`` for ``inp`` with the given device cgroup rules."""
    out: dict[str, Any] = {"devices": device_rules}
    memory, cpu = _memory(inp), _cpu(inp)
    if memory:
        out["memory"] = memory
    if cpu:
        out["cpu"] = cpu
    if inp.pids_limit is not None:
        # The API takes 0 and negatives as "unlimited"; the runtime wants -1 for that.
        out["pids"] = {"limit": inp.pids_limit if inp.pids_limit > 0 else -1}
    out["blockIO"] = {"weight": inp.blkio_weight} if inp.blkio_weight else {}
    return out
