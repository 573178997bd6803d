"""``PullDialog``: `docker pull` of an image reference, for an optional platform."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import QFormLayout, QLineEdit

from desktop_app.state.pulls import PullProgress, run_pull
from desktop_app.state.transfers import TransferProgress
from desktop_app.views.transfer_dialog import TransferDialog


class PullDialog(TransferDialog):
    verb = "Pull"
    title = "Pull an image"
    placeholder = "busybox:latest, registry.example:5000/team/app:1"

    def add_fields(self, form: QFormLayout) -> None:
        self.platform_edit = QLineEdit()
        self.platform_edit.setPlaceholderText("this machine's, or e.g. linux/arm64")
        form.addRow("Platform", self.platform_edit)

    def new_progress(self, reference: str) -> TransferProgress:
        return PullProgress(reference)

    def run(self, progress: TransferProgress, on_message: Callable[[], None]) -> Awaitable[object]:
        assert isinstance(progress, PullProgress)
        platform = self.platform_edit.text().strip() or None
        return run_pull(self._client, progress.reference, platform, progress, on_message)

    def set_fields_busy(self, busy: bool) -> None:
        self.platform_edit.setReadOnly(busy)
