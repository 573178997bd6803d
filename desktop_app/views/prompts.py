"""Questions and messages put to the user, behind one small interface so tests can answer them,
and ``ErrorReporter``, which turns any failure into a message (never a traceback)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from desktop_app.tasks import ErrorHandler
from doca.client import EngineError

log = logging.getLogger(__name__)


class Prompts(Protocol):
    def confirm(self, title: str, text: str) -> bool: ...

    def error(self, title: str, text: str) -> None: ...

    def info(self, title: str, text: str) -> None: ...

    def ask_text(self, title: str, label: str) -> str | None: ...

    def open_file(self, title: str, name_filter: str) -> Path | None: ...


class QtPrompts:
    """The real dialogs (modal: call them from Qt slots, never from inside an asyncio task)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def confirm(self, title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        answer = QMessageBox.question(
            self.parent, title, text, buttons, QMessageBox.StandardButton.Cancel
        )
        return answer == QMessageBox.StandardButton.Yes

    def error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)

    def info(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def ask_text(self, title: str, label: str) -> str | None:
        text, ok = QInputDialog.getText(self.parent, title, label)
        return text if ok else None

    def open_file(self, title: str, name_filter: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, "", name_filter)
        return Path(path) if path else None


def show_later(show: Callable[[], None]) -> None:
    """Open a dialog from the Qt event loop rather than from inside an asyncio task: a modal
    dialog's nested event loop must not run while a task is half-way through a step."""
    QTimer.singleShot(0, show)


def error_text(exc: BaseException) -> str:
    """What the user reads: the engine's own message, or a short line for anything else."""
    if isinstance(exc, EngineError):
        return exc.message
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def failure_text(exc: BaseException) -> str:
    """``error_text`` for a failure a view shows in place; an unexpected one is also logged
    with its traceback (the view shows one line, the log keeps the details)."""
    if not isinstance(exc, EngineError):
        log.error("unexpected error", exc_info=exc)
    return error_text(exc)


class ErrorReporter:
    """Shows failures of background work. The dialog opens from the Qt event loop (a zero
    timer), not from the asyncio callback that saw the failure, so no task is blocked."""

    def __init__(self, prompts: Prompts) -> None:
        self.prompts = prompts

    def __call__(self, title: str, exc: BaseException) -> None:
        if not isinstance(exc, EngineError):
            log.error("%s", title, exc_info=exc)
        text = error_text(exc)
        show_later(lambda: self.prompts.error(title, text))

    def handler(self, title: str) -> ErrorHandler:
        """An ``on_error`` callback for ``TaskOwner.spawn``."""
        return lambda exc: self(title, exc)
