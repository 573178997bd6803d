"""Pieces every form and dialog of the app builds the same way: the red line that says what is
wrong, an OK/Cancel row whose OK names the action, a read-only table of records, and a Close row
with the dialog's own action buttons beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
)

#: the style of text that reports a problem (a failed load, bad input, a refused login)
PROBLEM_STYLE = "color: #b00020"


def problem_label(word_wrap: bool = True) -> QLabel:
    """A red label, hidden until ``show_problem`` gives it something to say."""
    label = QLabel()
    label.setStyleSheet(PROBLEM_STYLE)
    label.setWordWrap(word_wrap)
    label.hide()
    return label


def show_problem(label: QLabel, text: str) -> None:
    """Say ``text`` on a problem label; no text hides the label."""
    label.setText(text)
    label.setVisible(bool(text))


def ok_cancel(
    ok_text: str, accepted: Callable[[], object], rejected: Callable[[], object]
) -> QDialogButtonBox:
    """OK and Cancel, with OK saying what it does ("Run", "Create")."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(accepted)
    buttons.rejected.connect(rejected)
    return buttons


def records_table(columns: Sequence[str]) -> QTableWidget:
    """A read-only table of whole-row records under ``columns``, the last column stretched."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def close_buttons(rejected: Callable[[], object], *actions: QPushButton) -> QDialogButtonBox:
    """Close, and the dialog's ``actions`` (which the dialog connects itself) beside it."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    for action in actions:
        buttons.addButton(action, QDialogButtonBox.ButtonRole.ActionRole)
    buttons.rejected.connect(rejected)
    return buttons
