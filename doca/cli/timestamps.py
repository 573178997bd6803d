"""Times given on the command line (``--since``, ``--until``) read as the docker CLI reads them
(api/types/time.GetTimestamp): a Go duration before now (``10m``, ``1h30m``), an RFC 3339 date
or date-time (local time without a zone), or a Unix timestamp passed on as it is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}  # fmt: skip
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_DATE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?"
    r"(Z|z|[+-]\d\d:\d\d)?"
)
_UNIX = re.compile(r"\d+(?:\.\d+)?")
_FIELDS = ("month", "day", "hour", "minute", "second")
_LOWEST = (1, 1, 0, 0, 0)
_HIGHEST = (12, 31, 23, 59, 59)


def parse_duration(text: str) -> float | None:
    """Go's time.ParseDuration in seconds, or None when ``text`` is not a duration."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        return None
    total, position = 0.0, 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if not match or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return sign * total


def _zone(text: str | None, now: datetime) -> timezone:
    if text is None:
        offset = now.astimezone().utcoffset() or timedelta(0)
        return timezone(offset)
    if text in ("Z", "z"):
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def _moment(match: re.Match[str], text: str, now: float) -> datetime:
    """The date-time ``match`` names, checked field by field as Go's time.Parse checks it."""
    parts = [int(group or 0) for group in match.groups()[:6]]
    for name, value, low, high in zip(_FIELDS, parts[1:], _LOWEST, _HIGHEST, strict=True):
        if not low <= value <= high:
            raise ValueError(f'parsing time "{text}": {name} out of range')
    year, month, day, hour, minute, second = parts
    zone = _zone(match.group(8), datetime.fromtimestamp(now))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:  # the 31st of a shorter month
        raise ValueError(f'parsing time "{text}": day out of range') from None


def get_timestamp(value: str, now: float) -> str:
    """The value as the Engine API takes ``since``/``until``: ``seconds.nanoseconds``, or
    whole seconds for a duration; ValueError with the docker CLI's wording otherwise."""
    duration = parse_duration(value)
    if value != "0" and duration is not None:
        return str(int(now - duration))
    match = _DATE.fullmatch(value)
    if match:
        nanos = int((match.group(7) or "").ljust(9, "0"))
        return f"{int(_moment(match, value, now).timestamp())}.{nanos:09d}"
    if "-" in value:
        raise ValueError(f'parsing time "{value}": not an RFC 3339 date or time')
    if not _UNIX.fullmatch(value):
        raise ValueError(f'failed to parse value as time or duration: "{value}"')
    return value
