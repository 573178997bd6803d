"""``LoginDialog``: a registry login (`docker login`): server, username and password, checked
by the engine before it is kept where the docker CLI keeps logins. A refused login is shown in
the dialog, which stays open; the password field is cleared."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from desktop_app.state.registry_login import LoginFailed, LoginRequest, log_in, secret_keeper
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import ok_cancel, problem_label, show_problem
from doca.client import EngineClient, EngineError

HUB = "docker.io"


class LoginDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        tasks: TaskOwner,
        config_dir: Path | None = None,
        on_login: Callable[[], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in to a registry")
        self._client = client
        self._tasks = tasks
        self._config_dir = config_dir
        self._on_login = on_login
        self.task: asyncio.Task[str] | None = None
        self.server_edit = QLineEdit()
        self.server_edit.setPlaceholderText(f"{HUB} (Docker Hub), or host:port")
        self.username_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.keeper = QLabel()
        self.keeper.setWordWrap(True)
        self.problem = problem_label()
        self.buttons = ok_cancel("Log in", self.accept, self.reject)
        self.server_edit.textChanged.connect(self._show_keeper)
        form = QFormLayout(self)
        form.addRow("Registry", self.server_edit)
        form.addRow("Username", self.username_edit)
        form.addRow("Password", self.password_edit)
        form.addRow(self.keeper)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self._show_keeper()

    def request(self) -> LoginRequest:
        server = self.server_edit.text().strip()
        return LoginRequest(server if server != HUB else "", self.username_edit.text(),
                            self.password_edit.text())  # fmt: skip

    def _show_keeper(self) -> None:
        try:
            where = secret_keeper(self.request().server, self._config_dir)
        except LoginFailed as exc:
            self.keeper.setText(str(exc))
            return
        self.keeper.setText(f"The login will be kept by: {where}")

    def _fail(self, message: str) -> None:
        show_problem(self.problem, message)
        self.password_edit.clear()
        self.buttons.setEnabled(True)

    def accept(self) -> None:
        """Have the engine check the login; the dialog closes once it is kept."""
        problem = self.request().problem()
        if problem:
            self._fail(problem)
            return
        self.problem.hide()
        self.buttons.setEnabled(False)
        self.task = self._tasks.spawn(self._log_in(), name="registry-login")

    async def _log_in(self) -> str:
        try:
            status = await log_in(self._client, self.request(), self._config_dir)
        except (LoginFailed, EngineError) as exc:
            self._fail(getattr(exc, "message", None) or str(exc))
            raise
        if self._on_login is not None:
            self._on_login()
        super().accept()
        return status
