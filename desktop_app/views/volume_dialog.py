"""``VolumeDialog``: name, driver, labels and driver options of a new volume; OK creates it
(`docker volume create`). Bad input is shown in the dialog, which stays open."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from desktop_app.state.engine_calls import create_volume
from desktop_app.state.volume_config import VolumeConfigError, VolumeRequest
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import ok_cancel, problem_label, show_problem
from desktop_app.views.prompts import ErrorReporter
from doca.client import EngineClient


class VolumeDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        report: ErrorReporter,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create a volume")
        self._client = client
        self._tasks = tasks
        self._report = report
        self.task: asyncio.Task[dict[str, Any]] | None = None
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a random name")
        self.driver_edit = QLineEdit("local")
        self.labels_edit = QPlainTextEdit()
        self.labels_edit.setPlaceholderText("KEY=value, one per line")
        self.labels_edit.setFixedHeight(64)
        self.options_edit = QPlainTextEdit()
        self.options_edit.setPlaceholderText("type=tmpfs\ndevice=tmpfs\no=size=64m")
        self.options_edit.setFixedHeight(80)
        self.problem = problem_label()
        buttons = ok_cancel("Create", self.accept, self.reject)
        form = QFormLayout(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Driver", self.driver_edit)
        form.addRow("Labels", self.labels_edit)
        form.addRow("Driver options", self.options_edit)
        form.addRow(self.problem)
        form.addRow(buttons)

    def request(self) -> VolumeRequest:
        return VolumeRequest(
            name=self.name_edit.text(),
            driver=self.driver_edit.text(),
            labels_text=self.labels_edit.toPlainText(),
            options_text=self.options_edit.toPlainText(),
        )

    def accept(self) -> None:
        """Check the input; if it is good, start creating the volume and close."""
        try:
            body = self.request().to_create_body()
        except VolumeConfigError as exc:
            show_problem(self.problem, str(exc))
            return
        self.task = self._tasks.spawn(
            create_volume(self._client, body),
            name="volume-create",
            on_error=self._report.handler("Could not create the volume"),
        )
        super().accept()
