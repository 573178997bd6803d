"""``TerminalView``: a shell in a running container, as ``docker exec -it <c> sh`` gives one, in
the container's details window.

Above the screen a line says what the terminal is doing, with a button to start a shell (or
start one again once it has ended). A stopped container has no shell: the button is disabled
and the line says why. The session's task belongs to the window's task owner."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.state.resources import ContainersStore
from desktop_app.state.terminal_session import TerminalSession
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import failure_text
from desktop_app.views.terminal_widget import TerminalWidget
from doca.client import EngineClient

NOT_RUNNING = "Not running: start the container to open a terminal."


class TerminalView(QWidget):
    def __init__(
        self,
        client: EngineClient,
        containers: ContainersStore,
        container_id: str,
        tasks: TaskOwner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._containers = containers
        self._container_id = container_id
        self._tasks = tasks
        self._task: asyncio.Task[int | None] | None = None
        self.session: TerminalSession | None = None
        self.status = QLabel()
        self.action = QPushButton("Start terminal")
        self.action.clicked.connect(self.start)
        self.console = TerminalWidget()
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.action)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.console, 1)
        self._unsubscribe = containers.add_listener(self._containers_changed)
        self._show_idle()

    @property
    def live(self) -> bool:
        """Whether a shell is starting or running."""
        return self._task is not None and not self._task.done()

    def _running(self) -> bool:
        row = self._containers.find(self._container_id)
        return row is not None and row.get("State") == "running"

    def start_once(self) -> asyncio.Task[int | None] | None:
        """Start a shell unless one was started already (the tab is shown again)."""
        if self.session is not None:
            return self._task
        return self.start()

    def start(self) -> asyncio.Task[int | None] | None:
        """Start a new shell if the container runs; the session's task, or None."""
        if self.live:
            return self._task
        if not self._running():
            self._show_idle()
            return None
        rows, columns = self.console.grid_size()
        session = TerminalSession(
            self._client, self._container_id, rows, columns,
            on_change=self.console.lines_changed, on_exit=self._exited,
        )  # fmt: skip
        self.session = session
        self.console.set_session(session)
        self.status.setText("Shell running")
        self.action.hide()
        self._task = self._tasks.spawn(session.run(), name="terminal", on_error=self._failed)
        self.console.setFocus()
        return self._task

    def _exited(self, code: int | None) -> None:
        if code is None:
            self.status.setText("The shell's connection closed.")
        else:
            self.status.setText(f"Process exited with code {code}")
        self._offer("Restart")

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Cannot start a shell: {failure_text(exc)}")
        self._offer("Restart")
        self.console.update()

    def _show_idle(self) -> None:
        """Before any shell: a reason when the container is stopped, else nothing to say."""
        self.status.setText("" if self._running() else NOT_RUNNING)
        self._offer("Start terminal")

    def _offer(self, label: str) -> None:
        running = self._running()
        self.action.setText(label)
        self.action.setEnabled(running)
        self.action.setToolTip("" if running else NOT_RUNNING)
        self.action.show()

    def _containers_changed(self) -> None:
        if self.live:
            return  # a stopping container ends the shell's stream; that says it all
        if self.session is None:
            self._show_idle()
        else:
            self._offer(self.action.text())

    def detach(self) -> None:
        """Stop following the container and end the shell (the view is going away)."""
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
