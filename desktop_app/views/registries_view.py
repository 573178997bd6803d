"""``RegistriesDialog``: the registries the docker config holds logins for, with the username,
where the secret lives (a credential helper or plaintext in config.json) and whether the docker
CLI would use it; log in (checked by the engine), log out, and the credentials doctor's
findings. Secrets are never read, let alone shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.state.registries import RegistryLogins, collect_logins
from desktop_app.state.registry_login import log_out
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import (
    close_buttons,
    problem_label,
    records_table,
    show_problem,
)
from desktop_app.views.login_dialog import LoginDialog
from doca.client import EngineClient
from doca.credhelper.doctor import Diagnosis, diagnose
from doca.credhelper.protocol import HUB_URL

COLUMNS = ("Registry", "Username", "Secret kept by", "Used")


class RegistriesDialog(QDialog):
    def __init__(
        self,
        tasks: TaskOwner,
        config_dir: Path | None = None,
        parent: QWidget | None = None,
        client: EngineClient | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Registry logins")
        self.resize(640, 360)
        self._tasks = tasks
        self._config_dir = config_dir
        self._client = client
        self.login_dialog: LoginDialog | None = None
        self.task: asyncio.Task[RegistryLogins] | None = None
        self.source = QLabel()
        self.table = records_table(COLUMNS)
        self.problems = problem_label()
        self.doctor_text = QPlainTextEdit()
        self.doctor_text.setReadOnly(True)
        self.doctor_text.hide()
        self.login_button = QPushButton("Log in…")
        self.logout_button = QPushButton("Log out")
        self.doctor_button = QPushButton("Check")
        self.doctor_button.setToolTip("Where are the secrets kept? (doca credentials doctor)")
        self.refresh_button = QPushButton("Refresh")
        buttons = close_buttons(self.reject, self.login_button, self.logout_button,
                                self.doctor_button, self.refresh_button)  # fmt: skip
        self.login_button.setEnabled(client is not None)
        self.login_button.clicked.connect(self.open_login)
        self.logout_button.clicked.connect(self.log_out_selected)
        self.doctor_button.clicked.connect(self.check)
        self.refresh_button.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.doctor_text)
        layout.addWidget(buttons)

    def refresh(self) -> asyncio.Task[RegistryLogins] | None:
        """Read the config and list the helpers' logins again (in a thread: helpers are
        programs that may take their time); None while a refresh is under way."""
        if self.task is not None and not self.task.done():
            return None
        self.refresh_button.setEnabled(False)
        self.source.setText("Reading the docker config…")
        self.task = self._tasks.spawn(
            self._load(), name="registry-logins", on_error=self._show_error
        )
        return self.task

    async def _load(self) -> RegistryLogins:
        try:
            logins = await asyncio.to_thread(collect_logins, self._config_dir)
        finally:
            self.refresh_button.setEnabled(True)
        self._show(logins)
        return logins

    def _show(self, found: RegistryLogins) -> None:
        count = len(found.logins)
        self.source.setText(f"{count} login{'s' if count != 1 else ''} in {found.config_path}")
        self.table.setRowCount(count)
        for row, login in enumerate(found.logins):
            cells = (login.registry, login.username, login.store, "yes" if login.used else "no")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        show_problem(self.problems, "\n".join(found.problems))

    def open_login(self) -> LoginDialog:
        """The login form; a login that succeeds refreshes the list."""
        assert self._client is not None
        self.login_dialog = LoginDialog(self._client, self._tasks, self._config_dir,
                                        on_login=self.refresh, parent=self)  # fmt: skip
        self.login_dialog.show()
        return self.login_dialog

    def log_out_selected(self) -> asyncio.Task[None] | None:
        """`docker logout` of the selected row's registry."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        registry = self._cell(rows[0].row(), COLUMNS.index("Registry"))
        return self._tasks.spawn(self._log_out(registry), name="registry-logout",
                                 on_error=self._show_error)  # fmt: skip

    async def _log_out(self, registry: str) -> None:
        await log_out("" if registry == HUB_URL else registry, self._config_dir)
        self.refresh()

    def check(self) -> asyncio.Task[Diagnosis]:
        """Run the credentials doctor (in a thread: it asks helpers) and show what it found."""
        self.doctor_button.setEnabled(False)
        return self._tasks.spawn(self._check(), name="credentials-doctor",
                                 on_error=self._show_error)  # fmt: skip

    async def _check(self) -> Diagnosis:
        try:
            found = await asyncio.to_thread(diagnose, self._config_dir)
        finally:
            self.doctor_button.setEnabled(True)
        lines = [f"{label}: {value}" for label, value in found.facts]
        lines += [f"! {finding}" for finding in found.findings] or [
            "OK: no registry secret is kept in plaintext."
        ]
        self.doctor_text.setPlainText("\n".join(lines))
        self.doctor_text.show()
        return found

    def _show_error(self, exc: BaseException) -> None:
        # A broken config.json is the answer to "where am I logged in", so it is shown here.
        self.table.setRowCount(0)
        self.source.setText("Cannot read the docker config")
        show_problem(self.problems, str(exc))

    def column_texts(self, title: str) -> list[str]:
        column = COLUMNS.index(title)
        return [self._cell(row, column) for row in range(self.table.rowCount())]

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def all_texts(self) -> str:
        """Everything the dialog shows, for checks that no secret is on screen."""
        cells = [
            self._cell(row, column)
            for row in range(self.table.rowCount())
            for column in range(len(COLUMNS))
        ]
        return "\n".join([self.source.text(), *cells, self.problems.text()])
