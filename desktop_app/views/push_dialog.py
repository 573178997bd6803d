"""``PushDialog``: an image name; Push runs `docker push` as a task and shows its progress (an
overall bar, one line per layer, the outcome). Closing the dialog during a push cancels it."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QWidget,
)

from desktop_app.state.pushes import PushProgress, run_push
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.prompts import ErrorReporter, error_text
from doca.client import EngineClient

BAR_STEPS = 1000


class PushDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        report: ErrorReporter,
        reference: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Push an image")
        self.resize(520, 360)
        self._client = client
        self._tasks = tasks
        self._report = report
        self.task: asyncio.Task[PushProgress] | None = None
        self.progress: PushProgress | None = None
        self.reference_edit = QLineEdit(reference)
        self.reference_edit.setPlaceholderText("registry.example:5000/team/app:1")
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.status_text = QLabel("Tag the image with the registry's name first to push it there.")
        self.status_text.setWordWrap(True)
        self.layer_list = QListWidget()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.push_button = QPushButton("Push")
        self.push_button.setDefault(True)
        buttons.addButton(self.push_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.push_button.clicked.connect(self.start_push)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Image", self.reference_edit)
        form.addRow(self.bar)
        form.addRow(self.status_text)
        form.addRow(self.layer_list)
        form.addRow(buttons)

    @property
    def pushing(self) -> bool:
        return self.task is not None and not self.task.done()

    def start_push(self) -> asyncio.Task[PushProgress] | None:
        """Push the name in the field (the "Push" button); None if there is nothing to push or
        a push is under way."""
        reference = self.reference_edit.text().strip()
        if not reference or self.pushing:
            return None
        self.progress = PushProgress(reference)
        self.layer_list.clear()
        self._set_busy(True)
        self._render()
        self.task = self._tasks.spawn(
            self._push(self.progress), name="image-push", on_error=self._failed(reference)
        )
        return self.task

    async def _push(self, progress: PushProgress) -> PushProgress:
        try:
            return await run_push(self._client, progress, self._render)
        finally:
            self._set_busy(False)
            self._render()

    def _failed(self, reference: str) -> ErrorHandler:
        def failed(exc: BaseException) -> None:
            if self.progress is not None and not self.progress.error:
                self.progress.error = error_text(exc)
                self._render()
            self._report(f"Could not push {reference}", exc)

        return failed

    def _set_busy(self, busy: bool) -> None:
        self.push_button.setEnabled(not busy)
        self.reference_edit.setReadOnly(busy)

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

    def layer_texts(self) -> list[str]:
        return [self.layer_list.item(row).text() for row in range(self.layer_list.count())]

    def reject(self) -> None:
        if self.pushing and self.task is not None:
            self.task.cancel()
        super().reject()
