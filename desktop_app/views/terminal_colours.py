"""The colours of a terminal's cells: pyte's colour names as xterm draws them, 256-colour and
true-colour values as they come, and the widget's palette for the default colours."""

from __future__ import annotations

from PySide6.QtGui import QColor

# xterm's colours for pyte's colour names (pyte spells yellow "brown", and one bright name
# "bfightmagenta"); 256-colour and true-colour values come as hex strings.
_NAMED = {
    "black": "#000000", "red": "#cd0000", "green": "#00cd00", "brown": "#cdcd00",
    "blue": "#0000ee", "magenta": "#cd00cd", "cyan": "#00cdcd", "white": "#e5e5e5",
    "brightblack": "#7f7f7f", "brightred": "#ff0000", "brightgreen": "#00ff00",
    "brightbrown": "#ffff00", "brightblue": "#5c5cff", "brightmagenta": "#ff00ff",
    "bfightmagenta": "#ff00ff", "brightcyan": "#00ffff", "brightwhite": "#ffffff",
}  # fmt: skip


def colour(name: str, default: QColor) -> QColor:
    """A pyte colour: a name, six hex digits, or ``default``."""
    if name in _NAMED:
        return QColor(_NAMED[name])
    if len(name) == 6:
        value = QColor(f"#{name}")
        if value.isValid():
            return value
    return default
