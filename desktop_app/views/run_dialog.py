"""``RunDialog``: image, name, command, environment, ports and restart policy; OK creates and
starts the container (`docker run -d`). Bad input is shown in the dialog, which stays open."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from desktop_app.state.run_config import (
    RESTART_POLICIES,
    RunConfigError,
    RunRequest,
    run_container,
)
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import ok_cancel, problem_label, show_problem
from desktop_app.views.prompts import ErrorReporter
from doca.client import EngineClient


class RunDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        report: ErrorReporter,
        images: Sequence[str],
        image: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run a container")
        self._client = client
        self._tasks = tasks
        self._report = report
        self.task: asyncio.Task[str] | None = None
        self.image_box = QComboBox()
        self.image_box.setEditable(True)
        self.image_box.addItems(list(images))
        self.image_box.setCurrentText(image)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a random name")
        self.command_edit = QLineEdit()
        self.command_edit.setPlaceholderText("the image's command, e.g. sh -c 'echo hello'")
        self.env_edit = QPlainTextEdit()
        self.env_edit.setPlaceholderText("KEY=value, one per line")
        self.env_edit.setFixedHeight(80)
        self.ports_edit = QLineEdit()
        self.ports_edit.setPlaceholderText("8080:80, 127.0.0.1:5432:5432/tcp")
        self.restart_box = QComboBox()
        self.restart_box.addItems(list(RESTART_POLICIES))
        self.problem = problem_label()
        buttons = ok_cancel("Run", self.accept, self.reject)
        form = QFormLayout(self)
        form.addRow("Image", self.image_box)
        form.addRow("Name", self.name_edit)
        form.addRow("Command", self.command_edit)
        form.addRow("Environment", self.env_edit)
        form.addRow("Ports", self.ports_edit)
        form.addRow("Restart", self.restart_box)
        form.addRow(self.problem)
        form.addRow(buttons)

    def request(self) -> RunRequest:
        return RunRequest(
            image=self.image_box.currentText(),
            name=self.name_edit.text(),
            command=self.command_edit.text(),
            env_text=self.env_edit.toPlainText(),
            ports_text=self.ports_edit.text(),
            restart_policy=self.restart_box.currentText(),
        )

    def accept(self) -> None:
        """Check the input; if it is good, start creating the container and close."""
        request = self.request()
        try:
            request.to_create_config()
        except RunConfigError as exc:
            show_problem(self.problem, str(exc))
            return
        self.task = self._tasks.spawn(
            run_container(self._client, request),
            name="run",
            on_error=self._report.handler(f"Could not run {request.image.strip()}"),
        )
        super().accept()
