"""``FileEntriesModel``: one directory of a container, as ``ls -l`` shows it."""

from __future__ import annotations

from desktop_app.qtmodels.row_model import Column, RowTableModel
from desktop_app.state.container_files import FileEntry
from desktop_app.state.rows import format_created, human_size


def _size(entry: FileEntry) -> str:
    return human_size(entry.size) if entry.kind == "file" else ""


def _name(entry: FileEntry) -> str:
    return entry.name + "/" if entry.kind == "dir" else entry.name


FILE_COLUMNS: list[Column[FileEntry]] = [
    Column("Name", _name, lambda e: e.link_target and f"→ {e.link_target}"),
    Column("Size", _size, lambda e: f"{e.size} bytes" if e.kind == "file" else ""),
    Column("Mode", lambda e: e.mode_text),
    Column("Modified", lambda e: format_created(e.mtime)),
    Column("Link to", lambda e: e.link_target),
]


class FileEntriesModel(RowTableModel[FileEntry]):
    def __init__(self) -> None:
        super().__init__(FILE_COLUMNS, key=lambda e: e.name)
