"""Linux capability names and Docker's rules for ``--cap-add``, ``--cap-drop`` and ``--privileged``.

Mirrors moby's ``oci/caps``: the 14 default capabilities, ``ALL`` as a magic value, names
accepted case-insensitively with or without the ``CAP_`` prefix, and the same error texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.errors import InvalidParameter

#: Every capability the kernel knows, indexed by its number (capability.h), up to
#: CAP_CHECKPOINT_RESTORE (40, Linux 5.9).
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

#: Highest capability number this module knows (the caller may pass the host's
#: /proc/sys/kernel/cap_last_cap when it is lower).
LAST_CAP = len(ALL_CAPABILITIES) - 1

#: Docker's default set, in moby's order.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

ALL = "ALL"

_INDEX = {name: number for number, name in enumerate(ALL_CAPABILITIES)}


def go_quote(value: str) -> str:
    """``value`` quoted the way Go's ``%q`` does for ordinary text."""
    return json.dumps(value, ensure_ascii=False)


def available_capabilities(
    last_cap: int = LAST_CAP, held: Iterable[str] | None = None
) -> list[str]:
    """What a privileged container gets: the capabilities up to ``last_cap`` (the kernel's
    /proc/sys/kernel/cap_last_cap), limited to ``held`` (the engine's own) when given —
    dockerd likewise hands out only what it holds itself.
    """
    known = ALL_CAPABILITIES[: last_cap + 1]
    if held is None:
        return list(known)
    held_set = set(held)
    return [c for c in known if c in held_set]


def capabilities_from_mask(mask: int) -> list[str]:
    """Names of the bits set in a /proc/<pid>/status mask such as CapEff."""
    return [name for number, name in enumerate(ALL_CAPABILITIES) if mask >> number & 1]


def parse_capabilities(
    names: Iterable[str], last_cap: int = LAST_CAP, held: Iterable[str] | None = None
) -> list[str]:
    """Normalize CapAdd/CapDrop entries to ``CAP_*`` names (``ALL`` stays ``ALL``).

    Raises InvalidParameter with dockerd's wording for an unknown name or one the kernel
    (``last_cap``) or the engine (``held``) does not offer.
    """
    available = set(available_capabilities(last_cap, held))
    normalized: list[str] = []
    for raw in names:
        name = raw.upper()
        if name == ALL:
            normalized.append(name)
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in _INDEX:
            raise InvalidParameter(f"unknown capability: {go_quote(name)}")
        if name not in available:
            raise InvalidParameter(
                "capability not supported by your kernel or not available in the current "
                f"environment: {go_quote(name)}"
            )
        normalized.append(name)
    return normalized


def container_capabilities(
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    *,
    privileged: bool = False,
    last_cap: int = LAST_CAP,
    held: Iterable[str] | None = None,
) -> list[str]:
    """The capability set of a container (moby's ``TweakCapabilities``).

    Privileged containers get every available capability and their CapAdd/CapDrop are
    ignored. ``ALL`` in CapAdd means "all but the dropped ones"; ``ALL`` in CapDrop means
    "only the added ones". Unlike moby, a capability added twice is listed once.
    """
    held = None if held is None else list(held)
    if privileged:
        return available_capabilities(last_cap, held)
    adds, drops = list(cap_add), list(cap_drop)
    if not adds and not drops:
        return list(DEFAULT_CAPABILITIES)
    # moby validates the drops first, so a bad drop is reported before a bad add.
    dropped = parse_capabilities(drops, last_cap, held)
    added = parse_capabilities(adds, last_cap, held)
    if ALL in added:
        result = [c for c in available_capabilities(last_cap, held) if c not in dropped]
    elif ALL in dropped:
        result = added
    else:
        result = [c for c in DEFAULT_CAPABILITIES if c not in dropped] + added
    return list(dict.fromkeys(result))


def capability_mask(names: Iterable[str]) -> int:
    """The bit mask of ``names`` as /proc/<pid>/status shows it (CapEff, CapBnd …)."""
    mask = 0
    for name in names:
        mask |= 1 << _INDEX[name]
    return mask
