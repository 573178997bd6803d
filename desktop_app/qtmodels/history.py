"""``HistoryModel``: an image's layers, newest first, as `docker history` lists them."""

from __future__ import annotations

from collections.abc import Sequence

from desktop_app.qtmodels.row_model import Column, RowTableModel
from desktop_app.state.image_details import HistoryRow

HISTORY_COLUMNS: list[Column[HistoryRow]] = [
    Column("Layer", lambda r: r.id),
    Column("Created", lambda r: r.created),
    Column("Created by", lambda r: r.created_by, lambda r: r.created_by),
    Column("Size", lambda r: r.size),
    Column("Comment", lambda r: r.comment),
]


class HistoryModel(RowTableModel[HistoryRow]):
    def __init__(self, rows: Sequence[HistoryRow] = ()) -> None:
        super().__init__(HISTORY_COLUMNS, key=lambda r: r.key)
        self.set_rows(rows)
