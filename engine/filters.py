"""The ``filters`` query parameter of list endpoints, parsed and matched as dockerd does."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from engine.errors import InvalidParameter


@dataclass
class Filters:
    """A filter key maps to the values given for it; values of one key are OR-ed, keys AND-ed."""

    values: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> Filters:
        """Accept both encodings: ``{"k":["v"]}`` and the older ``{"k":{"v":true}}``."""
        if not raw:
            return cls()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"invalid filter: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidParameter("invalid filter: expected a JSON object")
        values: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(value, list):
                items = value
            elif isinstance(value, dict):
                items = [k for k, v in value.items() if v]
            else:
                raise InvalidParameter(f"invalid filter: value of '{key}' must be a list")
            if not all(isinstance(item, str) for item in items):
                raise InvalidParameter(f"invalid filter: values of '{key}' must be strings")
            values[key] = list(items)
        return cls(values)

    def validate(self, allowed: Iterable[str]) -> Filters:
        allowed = set(allowed)
        for key in self.values:
            if key not in allowed:
                raise InvalidParameter(f"invalid filter '{key}'")
        return self

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> list[str]:
        return self.values.get(key, [])

    def bool_value(self, key: str) -> bool | None:
        """The value of a true/false filter (dangling), or None when it is not set."""
        values = self.get(key)
        if not values:
            return None
        lowered = {v.lower() for v in values}
        if lowered <= {"true", "1"}:
            return True
        if lowered <= {"false", "0"}:
            return False
        raise InvalidParameter(f"invalid filter '{key}={values[0]}'")

    def match_labels(self, labels: Mapping[str, str] | None, key: str = "label") -> bool:
        """``label=k`` (present) or ``label=k=v``; every label filter must match."""
        labels = labels or {}
        for expr in self.get(key):
            name, sep, value = expr.partition("=")
            if name not in labels or (sep and labels[name] != value):
                return False
        return True

    def match_not_labels(self, labels: Mapping[str, str] | None) -> bool:
        """``label!=k`` / ``label!=k=v``: none of them may match (used by prune)."""
        labels = labels or {}
        for expr in self.get("label!"):
            name, sep, value = expr.partition("=")
            if name in labels and (not sep or labels[name] == value):
                return False
        return True


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+")
_UNIX_TIME = re.compile(r"-?\d+(?:\.\d+)?")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_timestamp(value: str, now: float | None = None) -> float:
    """A point in time as the docker CLI sends it: Unix seconds (``1700000000.123``), an
    RFC 3339 date, or a Go duration (``10m``, ``1h30m``) meaning that long ago."""
    now = time.time() if now is None else now
    text = value.strip()
    if _UNIX_TIME.fullmatch(text):
        return float(text)
    if _DURATION.fullmatch(text):
        return now - sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidParameter(f"invalid timestamp {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.astimezone().timestamp()
    return parsed.timestamp()
