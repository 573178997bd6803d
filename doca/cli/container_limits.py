"""Values of `run`/`create`/`update` flags read as the docker CLI reads them: numbers, CPU counts,
Go durations, ulimits, devices and restart policies. ValueError carries the docker CLI's
wording."""

from __future__ import annotations

import posixpath
import re
from fractions import Fraction
from typing import Any

from doca.cli.units import ram_in_bytes

_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    # Go accepts both micro signs: U+00B5 and U+03BC.
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
ULIMIT_NAMES = frozenset(
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending "
    "stack".split()
)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_int(text: str) -> int:
    """strconv.ParseInt of base 10."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def parse_bool(text: str) -> bool:
    """strconv.ParseBool."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_memory(text: str) -> int:
    """``--memory`` and the other byte sizes (opts.MemBytes)."""
    return ram_in_bytes(text)


def parse_memory_swap(text: str) -> int:
    """``--memory-swap``: a size, or -1 for unlimited swap."""
    return -1 if text == "-1" else ram_in_bytes(text)


def parse_cpus(text: str) -> int:
    """``--cpus`` as NanoCPUs: any rational number of CPUs, to the nanosecond."""
    try:
        if text != text.strip():
            raise ValueError(text)
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: ``30s``, ``1m30s``, ``1.5h``, ``500ms``."""
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if body == "0":
        return 0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    at = 0
    while at < len(body):
        match = _DURATION_PART.match(body, at)
        assert match is not None
        number, unit = match.groups()
        if number in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _DURATION_UNITS[unit]
        at = match.end()
    return sign * round(total)


def parse_ulimit(text: str) -> dict[str, Any]:
    """``NAME=SOFT[:HARD]`` as go-units' ParseUlimit reads it."""
    name, sep, values = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    limits = values.split(":")
    if len(limits) > 2:
        raise ValueError(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    soft = parse_int(limits[0])
    hard = parse_int(limits[1]) if len(limits) == 2 else soft
    if hard != -1 and soft > hard:
        raise ValueError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return {"Name": name, "Soft": soft, "Hard": hard}


def _device_mode(mode: str) -> bool:
    return bool(mode) and len(set(mode)) == len(mode) and set(mode) <= set("rwm")


def parse_device(text: str) -> dict[str, str]:
    """``HOST[:CONTAINER][:PERMISSIONS]`` into a DeviceMapping (validateLinuxPath and
    parseLinuxDevice of the docker CLI)."""
    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"bad format for path: {text}")
    if len(parts) == 1:
        container = parts[0]
    elif len(parts) == 2:
        container = parts[0] if _device_mode(parts[1]) else parts[1]
    else:
        container = parts[1]
        if not _device_mode(parts[2]):
            raise ValueError(f"bad mode specified: {parts[2]}")
    if not container.startswith("/"):
        raise ValueError(f"{container} is not an absolute path")
    source, target, permissions = parts[0], "", "rwm"
    if len(parts) == 1:
        source = posixpath.normpath(parts[0])
    elif len(parts) == 2:
        if _device_mode(parts[1]):
            source, permissions = posixpath.normpath(parts[0]), parts[1]
        else:
            target = posixpath.normpath(parts[1])
    else:
        target, permissions = parts[1], parts[2]
    return {
        "PathOnHost": source,
        "PathInContainer": target or source,
        "CgroupPermissions": permissions,
    }


def parse_restart_policy(text: str) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]`` (the engine checks the name)."""
    if not text:
        return {}
    name, sep, count = text.partition(":")
    if sep and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    policy: dict[str, Any] = {"Name": name, "MaximumRetryCount": 0}
    if count:
        try:
            policy["MaximumRetryCount"] = parse_int(count)
        except ValueError:
            raise ValueError(
                "invalid restart policy format: maximum retry count must be an integer"
            ) from None
    return policy
