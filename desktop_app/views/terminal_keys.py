"""Key presses as the bytes a terminal (xterm) sends for them, and the terminal's own shortcuts
(copy and paste), which never reach the program.

Control bytes come from the key, not from the text Qt attaches to the event, which differs
between platforms. On macOS Qt reports the Command key as Control and the Control key as Meta:
the Control key still makes control bytes, and Command+C/V copy and paste as elsewhere on macOS.
"""

from __future__ import annotations

import sys
from enum import Enum

from PySide6.QtCore import Qt

Key = Qt.Key
Mod = Qt.KeyboardModifier

MAC = sys.platform == "darwin"
CONTROL = Mod.MetaModifier if MAC else Mod.ControlModifier

# CSI keys ending in a letter (ESC [ A); with application cursor keys ESC O A.
_CURSOR = {Key.Key_Up: "A", Key.Key_Down: "B", Key.Key_Right: "C", Key.Key_Left: "D",
           Key.Key_Home: "H", Key.Key_End: "F"}  # fmt: skip
# CSI keys ending in a number and '~' (ESC [ 3 ~ for Delete).
_TILDE = {Key.Key_Insert: 2, Key.Key_Delete: 3, Key.Key_PageUp: 5, Key.Key_PageDown: 6,
          Key.Key_F5: 15, Key.Key_F6: 17, Key.Key_F7: 18, Key.Key_F8: 19, Key.Key_F9: 20,
          Key.Key_F10: 21, Key.Key_F11: 23, Key.Key_F12: 24}  # fmt: skip
_FUNCTION = {Key.Key_F1: "P", Key.Key_F2: "Q", Key.Key_F3: "R", Key.Key_F4: "S"}
_PLAIN = {Key.Key_Return: b"\r", Key.Key_Enter: b"\r", Key.Key_Backspace: b"\x7f",
          Key.Key_Tab: b"\t", Key.Key_Backtab: b"\x1b[Z", Key.Key_Escape: b"\x1b"}  # fmt: skip
# Control with a punctuation key: the ASCII control characters beyond the letters.
_CONTROL_PUNCTUATION = {Key.Key_Space: 0, Key.Key_At: 0, Key.Key_2: 0,
                        Key.Key_BracketLeft: 0x1B, Key.Key_Backslash: 0x1C,
                        Key.Key_BracketRight: 0x1D, Key.Key_AsciiCircum: 0x1E, Key.Key_6: 0x1E,
                        Key.Key_Underscore: 0x1F, Key.Key_Minus: 0x1F,
                        Key.Key_Question: 0x7F, Key.Key_Slash: 0x1F}  # fmt: skip


class Shortcut(Enum):
    COPY = "copy"
    PASTE = "paste"


def shortcut(key: int, modifiers: Mod) -> Shortcut | None:
    """Ctrl+Shift+C / Ctrl+Shift+V (Command+C / Command+V on macOS), and Shift+Insert to paste."""
    if MAC and modifiers & Mod.ControlModifier and not modifiers & Mod.MetaModifier:
        return {Key.Key_C: Shortcut.COPY, Key.Key_V: Shortcut.PASTE}.get(Key(key))
    if modifiers & CONTROL and modifiers & Mod.ShiftModifier:
        return {Key.Key_C: Shortcut.COPY, Key.Key_V: Shortcut.PASTE}.get(Key(key))
    if key == Key.Key_Insert and modifiers & Mod.ShiftModifier:
        return Shortcut.PASTE
    return None


def _modifier_code(modifiers: Mod) -> int:
    """xterm's modifier parameter: 1 + Shift 1 + Alt 2 + Control 4."""
    code = 1
    if modifiers & Mod.ShiftModifier:
        code += 1
    if modifiers & Mod.AltModifier:
        code += 2
    if modifiers & CONTROL:
        code += 4
    return code


def key_bytes(key: int, modifiers: Mod, text: str, application_cursor: bool = False) -> bytes:
    """What the terminal sends for a key press; empty for keys that send nothing (a lone
    Shift). ``application_cursor`` is the program's choice of ``ESC O`` cursor keys."""
    try:
        known = Key(key)
    except ValueError:
        known = None
    code = _modifier_code(modifiers)
    if known in _CURSOR:
        final = _CURSOR[known]
        if code > 1:
            return f"\x1b[1;{code}{final}".encode()
        return f"\x1bO{final}".encode() if application_cursor else f"\x1b[{final}".encode()
    if known in _TILDE:
        suffix = f";{code}" if code > 1 else ""
        return f"\x1b[{_TILDE[known]}{suffix}~".encode()
    if known in _FUNCTION:
        final = _FUNCTION[known]
        return f"\x1b[1;{code}{final}".encode() if code > 1 else f"\x1bO{final}".encode()
    meta = b"\x1b" if modifiers & Mod.AltModifier else b""
    if known in _PLAIN:
        if known == Key.Key_Backspace and modifiers & CONTROL:
            return meta + b"\x08"
        return meta + _PLAIN[known]
    if modifiers & CONTROL:
        if Key.Key_A <= key <= Key.Key_Z:
            return meta + bytes([key - Key.Key_A + 1])
        if known in _CONTROL_PUNCTUATION:
            return meta + bytes([_CONTROL_PUNCTUATION[known]])
    if text and all(ch >= " " and ch != "\x7f" for ch in text):
        return meta + text.encode()
    return b""
