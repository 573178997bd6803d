"""Go's ``time.ParseDuration`` and ``Duration.String``, for HEALTHCHECK's ``--interval=30s``
and friends. Integer arithmetic where Go uses it."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NUMBER = r"([0-9]*)(?:\.([0-9]*))?"
_PART = re.compile(_NUMBER + r"(ns|us|µs|μs|ms|s|m|h)")
_BARE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_MAX = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Nanoseconds; ``ValueError`` worded as Go's (``time: invalid duration "x"``)."""
    invalid = ValueError(f'time: invalid duration "{text}"')
    body = text
    negative = body[:1] == "-"
    if body[:1] in ("+", "-"):
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise invalid
    nanoseconds = 0
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None or not (match.group(1) or match.group(2)):
            if _BARE_NUMBER.fullmatch(body[position:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise invalid
        part = _part(match.group(1), match.group(2) or "", _UNITS[match.group(3)])
        if part is None:
            raise invalid
        nanoseconds += part
        position = match.end()
    if nanoseconds > _MAX + (1 if negative else 0):
        raise invalid
    return -nanoseconds if negative else nanoseconds


def _part(whole: str, fraction: str, unit: int) -> int | None:
    """One ``<number><unit>`` as Go adds it: the whole part exactly, the fraction through a
    float64 as Go's ParseDuration does (so results match Go's to the nanosecond)."""
    value = int(whole or "0")
    if value > (1 << 63) // unit:
        return None
    value *= unit
    digits, scale = 0, 1.0
    for char in fraction:
        if digits > (1 << 63) // 10:
            break  # Go ignores digits past int64 precision
        digits = digits * 10 + int(char)
        scale *= 10
    if digits:
        value += int(float(digits) * (float(unit) / scale))
    return value if value <= 1 << 63 else None


def _fraction(value: int, digits: int) -> str:
    """``value`` (in units of 10**-digits) as Go prints it: trailing zeros dropped."""
    whole, part = divmod(value, 10**digits)
    text = str(part).rjust(digits, "0").rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def format_duration(nanoseconds: int) -> str:
    """Go's ``Duration.String``: ``30s``, ``1m30s``, ``500ms``, ``8m0.000000001s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000_000_000:
        if value < 1_000:
            return f"{sign}{value}ns"
        if value < 1_000_000:
            return f"{sign}{_fraction(value, 3)}µs"
        return f"{sign}{_fraction(value, 6)}ms"
    hours, rest = divmod(value, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text
