"""Starting Doca Desktop at login: an XDG autostart entry
(``$XDG_CONFIG_HOME/autostart/doca-desktop.desktop``), written and removed. Its ``Exec`` line is
quoted as the Desktop Entry Specification says, so any path survives the session's parser."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ENTRY_NAME = "doca-desktop.desktop"
# Characters that make an Exec argument need quotes (the spec's "reserved characters").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def exec_argument(argument: str) -> str:
    """One argument of an ``Exec`` value: quoted where needed, with the quoting rule's and the
    string type's backslash escapes, and ``%`` doubled (it starts field codes)."""
    text = argument.replace("%", "%%")
    if text and not _RESERVED.intersection(text):
        return text
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in text)
    return '"' + quoted.replace("\\", "\\\\") + '"'


def desktop_entry(argv: Sequence[str]) -> str:
    """The autostart entry that runs ``argv``."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Doca Desktop\n"
        "Comment=Containers with the Doca engine\n"
        f"Exec={' '.join(exec_argument(a) for a in argv)}\n"
        "Icon=doca\n"
        "Terminal=false\n"
        "Categories=Development;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_command(
    which: Callable[[str], str | None] = shutil.which, python: str = sys.executable
) -> list[str]:
    """How a login session starts the app: in the tray only (``--hidden``), through the
    installed ``doca-desktop`` command, or the interpreter that runs this app."""
    program = which("doca-desktop")
    if program is not None:
        return [program, "--hidden"]
    return [python, "-m", "desktop_app.main", "--hidden"]


def set_autostart(path: Path, argv: Sequence[str] | None) -> None:
    """Write the entry at ``path`` to run ``argv``, or remove it when ``argv`` is None.
    Blocking (file writes): call it from a thread."""
    if argv is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(desktop_entry(argv), encoding="utf-8")
    os.replace(temp, path)


def autostart_enabled(path: Path) -> bool:
    return path.is_file()
