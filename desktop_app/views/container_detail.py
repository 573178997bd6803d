"""``ContainerDetailDialog``: one container in detail — Inspect, Stats, Files and Terminal tabs.
It owns the tasks its tabs start (the stats stream, listings, transfers, the shell) and cancels
them all when it closes."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QTabWidget, QVBoxLayout, QWidget

from desktop_app.state.resources import ContainersStore
from desktop_app.state.rows import short_id
from desktop_app.tasks import TaskOwner
from desktop_app.views.files_view import FilesView
from desktop_app.views.form_parts import close_buttons
from desktop_app.views.inspect_view import InspectView
from desktop_app.views.stats_view import StatsView
from desktop_app.views.terminal_view import TerminalView
from doca.client import EngineClient

TABS = ("Inspect", "Stats", "Files", "Terminal")


class ContainerDetailDialog(QDialog):
    def __init__(
        self,
        client: EngineClient,
        containers: ContainersStore,
        container_id: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.container_id = container_id
        self.tasks = TaskOwner(f"details-{short_id(container_id)}")
        row = containers.find(container_id) or {}
        self.container_name = str((row.get("Names") or [short_id(container_id)])[0]).lstrip("/")
        self.setWindowTitle(f"{self.container_name} — container details")
        self.resize(900, 600)
        self.inspect = InspectView(client, container_id, self.tasks)
        self.stats = StatsView(client, containers, container_id, self.tasks)
        self.files = FilesView(client, container_id, self.tasks)
        self.terminal = TerminalView(client, containers, container_id, self.tasks)
        self.tabs = QTabWidget()
        views = (self.inspect, self.stats, self.files, self.terminal)
        for title, view in zip(TABS, views, strict=True):
            self.tabs.addTab(view, title)
        self.tabs.currentChanged.connect(self._tab_changed)
        buttons = close_buttons(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self._closed = False

    def start(self) -> None:
        """Load the inspect document and follow the stats; the files are listed when their
        tab is first opened (a listing reads an archive, which is more than a glance), and a
        shell starts when the terminal's tab is (a process in the container is not a glance
        either)."""
        self.inspect.load()
        self.stats.follow()

    def show_tab(self, title: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(title))

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self.files:
            self.files.list_once()
        elif widget is self.terminal:
            self.terminal.start_once()

    async def aclose(self) -> None:
        """Stop following the container, end the shell and cancel every task of the tabs."""
        if not self._closed:
            self._closed = True
            self.stats.detach()
            self.terminal.detach()
        await self.tasks.aclose()

    async def dispose(self) -> None:
        """``aclose``, then let Qt delete the dialog (once no task can touch it any more)."""
        await self.aclose()
        self.deleteLater()
