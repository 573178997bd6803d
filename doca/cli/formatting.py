"""Pure text formatting for the CLI, spelled as the docker CLI spells it (go-units, tabwriter)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from doca.cli.tabwriter import text_width

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
# The docker CLI's tabwriter: cells at least 10 wide, 3 spaces between columns.
_MIN_WIDTH = 10
_PADDING = 3
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)")


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "About a minute", "3 hours" …"""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"


def time_ago(timestamp: float, now: float) -> str:
    """How long ago ``timestamp`` was, as in the CREATED column: "2 minutes ago"."""
    return human_duration(max(0.0, now - timestamp)) + " ago"


def _scaled(size: float, base: float, units: Sequence[str], precision: int) -> str:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return f"{size:.{precision}g}{units[index]}"


def human_size(size: float, precision: int = 3) -> str:
    """Decimal sizes, by default with three significant digits as `docker images` shows them:
    1.98MB; go-units' HumanSize, as `docker build` and `prune` show sizes, uses four."""
    return _scaled(float(size), 1000.0, _DECIMAL_UNITS, precision)


def bytes_size(size: float) -> str:
    """Binary sizes with four significant digits, as `docker info` shows memory: 7.5GiB."""
    return _scaled(float(size), 1024.0, _BINARY_UNITS, 4)


def short_id(identifier: str) -> str:
    """The 12-character ID shown in tables, without a ``sha256:`` prefix."""
    return identifier.removeprefix("sha256:")[:12]


def truncate_id(identifier: str) -> str:
    """stringid.TruncateID: 12 characters after any ``algorithm:`` prefix."""
    return identifier.partition(":")[2][:12] if ":" in identifier else identifier[:12]


def ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` display columns, the last one an ellipsis when cut (as the
    docker CLI's formatter.Ellipsis, wide characters counting two)."""
    if width <= 0:
        return ""
    if width == 1:
        return text[:1]
    if text_width(text) <= width:
        return text
    used = 0
    for index, char in enumerate(text):
        used += text_width(char)
        if used > width - 1:
            return text[:index] + "…"
    return text


def go_time(seconds: float) -> str:
    """Go's time.Unix(s, 0).String() in the local zone: ``2024-05-01 10:00:00 +0200 CEST``."""
    moment = datetime.fromtimestamp(int(seconds)).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z ") + (moment.tzname() or "")


def rfc3339_seconds(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time the engine sent (0 if it is not one)."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return 0.0
    date, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    moment = datetime.fromisoformat(f"{date}T{clock}{zone}")
    return moment.timestamp() + float(f"0.{fraction or 0}")


def go_rfc3339_time(text: str) -> str:
    """Go's String() of a time the engine sent as RFC 3339 (with up to nanoseconds):
    ``2024-05-01 10:00:00.123 +0000 UTC``, in the zone the text gave."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return text
    date, clock, fraction, zone = match.groups()
    fraction = (fraction or "").rstrip("0")
    # A zone without a name prints its offset in the name's place.
    offset = "+0000" if zone in ("Z", "z") else zone.replace(":", "")
    name = "UTC" if zone in ("Z", "z") else offset
    seconds = f"{clock}.{fraction}" if fraction else clock
    return f"{date} {seconds} {offset} {name}"


def quoted_command(command: str) -> str:
    """The COMMAND column of `docker ps`: quoted, cut to 20 characters."""
    return f'"{ellipsis(command, 20)}"'


def container_names(names: Iterable[str]) -> str:
    return ",".join(name.removeprefix("/") for name in names)


def _port(port: Mapping[str, Any]) -> str:
    private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    public = port.get("PublicPort")
    if not public:
        return private
    ip = str(port.get("IP") or "")
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{public}->{private}"


def ports(entries: Iterable[Mapping[str, Any]]) -> str:
    """The PORTS column: "0.0.0.0:8080->80/tcp, 443/tcp" (without docker's range grouping)."""
    seen: list[str] = []
    for entry in entries:
        text = _port(entry)
        if text not in seen:
            seen.append(text)
    return ", ".join(seen)


def split_repo_tag(reference: str) -> tuple[str, str]:
    """``repo:tag`` into its parts; a registry port's colon is not a tag's."""
    repo, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "<none>"
    return repo, tag


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns aligned as the docker CLI's tabwriter aligns them; no trailing spaces after the
    last column."""
    lines = [list(header), *(list(row) for row in rows)]
    widths = [
        max(_MIN_WIDTH, _PADDING + max(len(line[col]) for line in lines))
        for col in range(len(header))
    ]
    out = []
    for line in lines:
        cells = [cell.ljust(widths[col]) for col, cell in enumerate(line[:-1])]
        out.append("".join(cells) + line[-1])
    return "\n".join(out)
