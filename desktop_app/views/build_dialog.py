"""``BuildDialog``: a context directory, a Dockerfile, tags and build arguments; Build runs a
classic `docker build` as a task, streams its output into the dialog and shows the result.
Bad input is shown in the dialog; closing it during a build cancels the build."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from desktop_app.state.builds import BuildConfigError, BuildOutput, BuildRequest, run_build
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.file_dialogs import ask_directory, ask_open_path
from desktop_app.views.form_parts import close_buttons, problem_label, show_problem
from desktop_app.views.prompts import error_text
from doca.client import EngineClient, EngineError

log = logging.getLogger(__name__)

MAX_OUTPUT_LINES = 20_000


def _with_button(edit: QLineEdit, button: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


class BuildDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        context: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Build an image")
        self.resize(720, 560)
        self._client = client
        self._tasks = tasks
        self.task: asyncio.Task[str] | None = None
        self.output: BuildOutput | None = None
        self.context_edit = QLineEdit(context)
        self.context_edit.setPlaceholderText("the directory the Dockerfile's COPY sees")
        context_button = QPushButton("Browse…")
        context_button.clicked.connect(self._choose_context)
        self.dockerfile_edit = QLineEdit()
        self.dockerfile_edit.setPlaceholderText("Dockerfile (in the context)")
        dockerfile_button = QPushButton("Browse…")
        dockerfile_button.clicked.connect(self._choose_dockerfile)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("app:1, registry.example:5000/team/app:1")
        self.args_edit = QPlainTextEdit()
        self.args_edit.setPlaceholderText("KEY=value, one per line")
        self.args_edit.setFixedHeight(64)
        self.no_cache_box = QCheckBox("Do not use the build cache")
        self.pull_box = QCheckBox("Always pull the base images")
        self.problem = problem_label()
        self.output_view = QPlainTextEdit()
        self.output_view.setReadOnly(True)
        self.output_view.setMaximumBlockCount(MAX_OUTPUT_LINES)
        self.output_view.setFont(QFont("monospace"))
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.build_button = QPushButton("Build")
        self.build_button.setDefault(True)
        self.build_button.clicked.connect(self.start_build)
        buttons = close_buttons(self.reject, self.build_button)
        form = QFormLayout(self)
        form.addRow("Context", _with_button(self.context_edit, context_button))
        form.addRow("Dockerfile", _with_button(self.dockerfile_edit, dockerfile_button))
        form.addRow("Tags", self.tags_edit)
        form.addRow("Build arguments", self.args_edit)
        form.addRow(self.no_cache_box)
        form.addRow(self.pull_box)
        form.addRow(self.problem)
        form.addRow(self.output_view)
        form.addRow(self.result_label)
        form.addRow(buttons)

    @property
    def building(self) -> bool:
        return self.task is not None and not self.task.done()

    def request(self) -> BuildRequest:
        return BuildRequest(
            context=self.context_edit.text(),
            dockerfile=self.dockerfile_edit.text(),
            tags_text=self.tags_edit.text(),
            build_args_text=self.args_edit.toPlainText(),
            no_cache=self.no_cache_box.isChecked(),
            pull=self.pull_box.isChecked(),
        )

    def start_build(self) -> asyncio.Task[str] | None:
        """Check the input and build (the "Build" button); None for bad input or while a build
        is under way."""
        if self.building:
            return None
        request = self.request()
        try:
            tags = request.to_options().tags
        except BuildConfigError as exc:
            show_problem(self.problem, str(exc))
            return None
        self.problem.hide()
        self.output = output = BuildOutput()
        self.output_view.clear()
        self.result_label.setText("Sending the build context…")
        self.build_button.setEnabled(False)
        self.task = self._tasks.spawn(
            self._build(request, output, tags), name="image-build", on_error=self._failed(output)
        )
        return self.task

    async def _build(self, request: BuildRequest, output: BuildOutput, tags: list[str]) -> str:
        try:
            self.result_label.setText("Building…")
            image_id = await run_build(self._client, request, output, self._append)
            self.result_label.setText(output.summary(tags))
            return image_id
        finally:
            self.build_button.setEnabled(True)

    def _append(self, text: str) -> None:
        cursor = self.output_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.output_view.ensureCursorVisible()

    def _failed(self, output: BuildOutput) -> ErrorHandler:
        # A failed build is reported where its output is, not in a second window.
        def failed(exc: BaseException) -> None:
            if not isinstance(exc, EngineError):
                log.error("build failed", exc_info=exc)
            output.error = output.error or error_text(exc)
            self.result_label.setText(output.summary([]))

        return failed

    def output_text(self) -> str:
        return self.output_view.toPlainText()

    def _choose_context(self) -> None:
        path = ask_directory(self, "Build context", self.context_edit.text())
        if path is not None:
            self.context_edit.setText(str(path))

    def _choose_dockerfile(self) -> None:
        path = ask_open_path(self, "Dockerfile", self.context_edit.text())
        if path is not None:
            self.dockerfile_edit.setText(str(path))

    def reject(self) -> None:
        if self.building and self.task is not None:
            self.task.cancel()
        super().reject()
