"""``TransferDialog``: an image name, a button that runs the transfer as a task, and its
progress (an overall bar, one line per layer, the outcome). Closing the dialog during a
transfer cancels it, and the engine stops the transfer when the stream goes away. ``PullDialog``
and ``PushDialog`` say what differs: their words, their extra fields and the call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QWidget,
)

from desktop_app.state.transfers import TransferProgress
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.form_parts import close_buttons
from desktop_app.views.prompts import ErrorReporter, error_text
from doca.client import EngineClient

BAR_STEPS = 1000


class TransferDialog(QDialog):
    verb = "Transfer"  # the button, the task's name and the error's words
    title = ""
    placeholder = ""
    hint = ""

    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        report: ErrorReporter,
        reference: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.title)
        self.resize(520, 360)
        self._client = client
        self._tasks = tasks
        self._report = report
        self.task: asyncio.Task[TransferProgress] | None = None
        self.progress: TransferProgress | None = None
        self.reference_edit = QLineEdit(reference)
        self.reference_edit.setPlaceholderText(self.placeholder)
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(0)
        self.status_text = QLabel(self.hint)
        self.status_text.setWordWrap(True)
        self.layer_list = QListWidget()
        self.start_button = QPushButton(self.verb)
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        buttons = close_buttons(self.reject, self.start_button)
        self.form = QFormLayout(self)
        self.form.addRow("Image", self.reference_edit)
        self.add_fields(self.form)
        for widget in (self.bar, self.status_text, self.layer_list, buttons):
            self.form.addRow(widget)

    # -- what a transfer says of itself ---------------------------------------------------

    def add_fields(self, form: QFormLayout) -> None:
        """Rows of the form between the image and the progress."""

    def new_progress(self, reference: str) -> TransferProgress:
        raise NotImplementedError

    def run(self, progress: TransferProgress, on_message: Callable[[], None]) -> Awaitable[object]:
        raise NotImplementedError

    def set_fields_busy(self, busy: bool) -> None:
        """Freeze (or free) the extra fields while the transfer runs."""

    # -- the common part ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> asyncio.Task[TransferProgress] | None:
        """Transfer the name in the field (the button); None if there is nothing to transfer
        or a transfer is under way."""
        reference = self.reference_edit.text().strip()
        if not reference or self.busy:
            return None
        self.progress = self.new_progress(reference)
        self.layer_list.clear()
        self._set_busy(True)
        self._render()
        self.task = self._tasks.spawn(self._run(self.progress),
                                      name=f"image-{self.verb.lower()}",
                                      on_error=self._failed(reference))  # fmt: skip
        return self.task

    async def _run(self, progress: TransferProgress) -> TransferProgress:
        try:
            await self.run(progress, self._render)
            return progress
        finally:
            self._set_busy(False)
            self._render()

    def _failed(self, reference: str) -> ErrorHandler:
        def failed(exc: BaseException) -> None:
            if self.progress is not None and not self.progress.error:
                self.progress.error = error_text(exc)
                self._render()
            self._report(f"Could not {self.verb.lower()} {reference}", exc)

        return failed

    def _set_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        self.reference_edit.setReadOnly(busy)
        self.set_fields_busy(busy)

    def _render(self) -> None:
        progress = self.progress
        if progress is None:
            return
        self.bar.setValue(round(progress.fraction * BAR_STEPS))
        self.status_text.setText(progress.summary())
        lines = [layer.text() for layer in progress.layers.values()]
        for row, line in enumerate(lines):
            item = self.layer_list.item(row)
            if item is None:
                self.layer_list.addItem(line)
            elif item.text() != line:
                item.setText(line)
        while self.layer_list.count() > len(lines):
            self.layer_list.takeItem(self.layer_list.count() - 1)

    def layer_texts(self) -> list[str]:
        return [self.layer_list.item(row).text() for row in range(self.layer_list.count())]

    def reject(self) -> None:
        if self.busy and self.task is not None:
            self.task.cancel()
        super().reject()
