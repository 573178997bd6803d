"""Timestamps in the forms Docker's API uses."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(timestamp: float | None = None, ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC, trailing zeros of the fraction trimmed as Go trims them."""
    if ns is None:
        ns = int((timestamp if timestamp is not None else datetime.now(UTC).timestamp()) * 1e9)
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanosecond precision; 0 if empty."""
    if not text:
        return 0.0
    match = _FRACTION.search(text)
    fraction = 0.0
    if match:
        fraction = float("0." + match.group(1))
        text = text[: match.start()] + text[match.end() :]
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() + fraction
