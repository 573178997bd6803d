"""The ACPI power button: QMP's ``system_powerdown`` presses it, and the guest shuts down.

Without udev or acpid the press arrives as an input event on the button's evdev device;
init watches that device itself.
"""

from __future__ import annotations

import struct
from pathlib import Path

#: struct input_event on 64-bit Linux: struct timeval, __u16 type, __u16 code, __s32 value.
INPUT_EVENT = struct.Struct("llHHi")
EV_KEY = 0x01
KEY_POWER = 116
BUTTON_NAME = "Power Button"


def power_button_device(sys_input: Path = Path("/sys/class/input")) -> Path | None:
    """The ``/dev/input/eventN`` node of the power button, or None when there is none."""
    for event in sorted(sys_input.glob("event*")):
        try:
            name = (event / "device/name").read_text().strip()
        except OSError:
            continue
        if name == BUTTON_NAME:
            return Path("/dev/input") / event.name
    return None


def pressed(data: bytes) -> bool:
    """Whether ``data`` (whole input events) holds a press of the power key."""
    usable = len(data) - len(data) % INPUT_EVENT.size
    for _sec, _usec, kind, code, value in INPUT_EVENT.iter_unpack(data[:usable]):
        if kind == EV_KEY and code == KEY_POWER and value == 1:
            return True
    return False
