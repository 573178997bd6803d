"""Byte sizes read as go-units reads them (``RAMInBytes``), for ``--memory``, ``--shm-size`` and
compose's ``shm_size``: ``64m``, ``1.5GiB``, ``512 kb``, a bare number of bytes."""

from __future__ import annotations

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """The size ``text`` names, binary units; ValueError with go-units' wording."""
    cut = max(text.rfind(c) for c in "0123456789. ")
    if cut == -1:
        raise ValueError(f"invalid size: '{text}'")
    number, suffix = (text[:cut], text[cut + 1 :]) if text[cut] == " " else \
        (text[: cut + 1], text[cut + 1 :])  # fmt: skip
    try:
        size = float(number)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    if size < 0 or size != size:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lowered = suffix.lower()
    if len(lowered) > 3:
        raise ValueError(f"invalid suffix: '{lowered}'")
    if lowered == "b":
        return int(size)
    unit = _BINARY.get(lowered[0])
    if unit is None or lowered[1:] not in ("", "b", "ib"):
        raise ValueError(f"invalid suffix: '{lowered}'")
    return int(size * unit)
