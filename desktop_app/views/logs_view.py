"""``LogsView``: the log of one container, followed live (`docker logs -f --tail 1000`).

When the container stops the stream ends; when it runs again the view reloads and follows it."""

from __future__ import annotations

import asyncio

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from desktop_app.state.resources import ContainersStore
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import error_text
from doca.client import EngineClient

TAIL = 1000


class LogsView(QWidget):
    def __init__(
        self, client: EngineClient, containers: ContainersStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._containers = containers
        self._tasks = TaskOwner("logs")
        self._follow: asyncio.Task[None] | None = None
        self.container_id: str | None = None
        self.header = QLabel("Logs: select a container")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(20000)
        self.text.setFont(QFont("monospace"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.text)
        containers.add_listener(self._containers_changed)

    def show_container(self, container_id: str | None) -> None:
        """Show (and follow) this container's log; None clears the view."""
        if container_id == self.container_id:
            return
        self.container_id = container_id
        self._restart()

    def plain_text(self) -> str:
        return self.text.toPlainText()

    @property
    def following(self) -> bool:
        return self._follow is not None and not self._follow.done()

    def _restart(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            self._follow = None
        self.text.clear()
        if self.container_id is None:
            self.header.setText("Logs: select a container")
            return
        self._follow = self._tasks.spawn(self._stream(self.container_id), name="follow")

    def _containers_changed(self) -> None:
        if self.container_id is None or self.following:
            return
        row = self._containers.find(self.container_id)
        if row is not None and row.get("State") == "running":
            self._restart()  # it runs again: its log has grown, read it anew

    async def _stream(self, container_id: str) -> None:
        name = self._name(container_id)
        self.header.setText(f"Logs: {name} (following)")
        try:
            async for _stream, chunk in self._client.containers.logs(
                container_id, follow=True, tail=TAIL
            ):
                self._append(chunk.decode(errors="replace"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.header.setText(f"Logs: {name} — {error_text(exc)}")
            return
        self.header.setText(f"Logs: {name} (stopped)")

    def _append(self, text: str) -> None:
        bar = self.text.verticalScrollBar()
        at_end = bar.value() == bar.maximum()
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_end:
            bar.setValue(bar.maximum())

    def _name(self, container_id: str) -> str:
        row = self._containers.find(container_id)
        names = (row or {}).get("Names") or [container_id[:12]]
        return str(names[0]).lstrip("/")

    async def aclose(self) -> None:
        await self._tasks.aclose()
