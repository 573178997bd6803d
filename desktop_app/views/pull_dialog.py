"""``PullDialog``: an image reference and an optional platform; Pull runs `docker pull` as a
task and shows its progress (an overall bar, one line per layer, the outcome). Closing the
dialog during a pull cancels it, and the engine stops the transfer when the stream goes away."""

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

from desktop_app.state.pulls import PullProgress, run_pull
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.prompts import ErrorReporter
from doca.client import EngineClient

BAR_STEPS = 1000


class PullDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        report: ErrorReporter,
        reference: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pull an image")
        self.resize(520, 360)
        self._client = client
        self._tasks = tasks
        self._report = report
        self.task: asyncio.Task[PullProgress] | None = None
        self.progress: PullProgress | None = None
        self.reference_edit = QLineEdit(reference)
        self.reference_edit.setPlaceholderText("busybox:latest, registry.example:5000/team/app:1")
        self.platform_edit = QLineEdit()
        self.platform_edit.setPlaceholderText("this machine's, or e.g. linux/arm64")
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(0)
        self.status_text = QLabel()
        self.status_text.setWordWrap(True)
        self.layer_list = QListWidget()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.pull_button = QPushButton("Pull")
        self.pull_button.setDefault(True)
        buttons.addButton(self.pull_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.pull_button.clicked.connect(self.start_pull)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Image", self.reference_edit)
        form.addRow("Platform", self.platform_edit)
        form.addRow(self.bar)
        form.addRow(self.status_text)
        form.addRow(self.layer_list)
        form.addRow(buttons)

    @property
    def pulling(self) -> bool:
        return self.task is not None and not self.task.done()

    def start_pull(self) -> asyncio.Task[PullProgress] | None:
        """Pull the reference in the field (the "Pull" button); None if there is nothing to pull
        or a pull is under way."""
        reference = self.reference_edit.text().strip()
        if not reference or self.pulling:
            return None
        platform = self.platform_edit.text().strip() or None
        self.progress = PullProgress(reference)
        self._set_busy(True)
        self._render()
        self.task = self._tasks.spawn(
            self._pull(self.progress, platform),
            name="image-pull",
            on_error=self._failed(reference),
        )
        return self.task

    async def _pull(self, progress: PullProgress, platform: str | None) -> PullProgress:
        try:
            await run_pull(self._client, progress.reference, platform, progress, self._render)
            return progress
        finally:
            self._set_busy(False)
            self._render()

    def _failed(self, reference: str) -> ErrorHandler:
        def failed(exc: BaseException) -> None:
            if self.progress is not None and not self.progress.error:
                self.progress.error = str(getattr(exc, "message", "") or exc)
                self._render()
            self._report(f"Could not pull {reference}", exc)

        return failed

    def _set_busy(self, busy: bool) -> None:
        self.pull_button.setEnabled(not busy)
        self.reference_edit.setReadOnly(busy)
        self.platform_edit.setReadOnly(busy)

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
        if self.task is not None and not self.task.done():
            self.task.cancel()
        super().reject()
