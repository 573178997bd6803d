"""Signal names as the docker CLI sends them: ``SIGTERM``, ``TERM``, ``15``."""

from __future__ import annotations

import signal

from engine.errors import InvalidParameter


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, int) or value.isdigit():
        number = int(value)
        if 0 < number < signal.NSIG:
            return number
        raise InvalidParameter(f"Invalid signal: {value}")
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        if name.startswith("SIGRTMIN+") and name[9:].isdigit():
            return int(signal.SIGRTMIN) + int(name[9:])
        raise InvalidParameter(f"Invalid signal: {value}") from None
