"""The desktop's file choosers, as plain functions a view keeps in an attribute (so tests can put
an answer in their place). They are modal: call them from Qt slots, never from a task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

#: (parent, title, suggested file name, name filter) → the chosen path, or None
SavePathChooser = Callable[[QWidget | None, str, str, str], Path | None]


def ask_save_path(
    parent: QWidget | None, title: str, suggested: str, name_filter: str
) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, name_filter)
    return Path(path) if path else None


def ask_directory(parent: QWidget | None, title: str, start: str = "") -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, title, start)
    return Path(path) if path else None


def ask_open_path(
    parent: QWidget | None, title: str, start: str = "", name_filter: str = ""
) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, start, name_filter)
    return Path(path) if path else None
