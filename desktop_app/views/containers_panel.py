"""``ContainersPanel``: the containers table (Compose projects grouped), the verbs in a toolbar,
the selected container's log below, and a details window per container (double-click)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from PySide6.QtCore import QModelIndex, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QSplitter, QWidget
from shiboken6 import isValid

from desktop_app.qtmodels.resources import ContainersModel
from desktop_app.state.resources import ContainersStore
from desktop_app.state.rows import ContainerRow, allowed_actions
from desktop_app.tasks import TaskOwner
from desktop_app.views.container_actions import VERBS, ContainerActions
from desktop_app.views.container_detail import ContainerDetailDialog
from desktop_app.views.logs_view import LogsView
from desktop_app.views.prompts import ErrorReporter
from desktop_app.views.run_dialog import RunDialog
from desktop_app.views.table_panel import TablePanel
from doca.client import EngineClient


class ContainersPanel(TablePanel[ContainerRow]):
    def __init__(
        self,
        client: EngineClient,
        store: ContainersStore,
        actions: ContainerActions,
        tasks: TaskOwner,
        report: ErrorReporter,
        image_names: Callable[[], Sequence[str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ContainersModel(store), store, parent)
        self._client = client
        self._containers = store
        self._actions = actions
        self._tasks = tasks
        self._report = report
        self._image_names = image_names
        self.run_dialog: RunDialog | None = None
        self.details: dict[str, ContainerDetailDialog] = {}
        self.add_action("Run…", lambda: self.open_run_dialog(), "Run a new container")
        self.toolbar.addSeparator()
        self.verb_actions = {
            verb: self.add_action(verb.capitalize(), self._verb_handler(verb), f"{verb} selected")
            for verb in VERBS
        }
        self.toolbar.addSeparator()
        self.open_action = self.add_action(
            "Open in browser", self.open_in_browser, "Open the selected container's published port"
        )
        self.details_action = self.add_action(
            "Details…", self.open_details, "Inspect, stats and files of the selected container"
        )
        # Replaced in tests; opening a URL is the desktop's business.
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self.table.doubleClicked.connect(self._double_clicked)
        self.logs = LogsView(client, store)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.layout_.removeWidget(self.table)
        splitter.addWidget(self.table)
        splitter.addWidget(self.logs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.layout_.addWidget(splitter)
        self.update_actions()

    def _verb_handler(self, verb: str) -> Callable[[], object]:
        return lambda: self.run_verb(verb)

    def run_verb(self, verb: str) -> asyncio.Task[None] | None:
        """Apply a verb to the selected containers (the toolbar's handler)."""
        return self._actions.run(verb, self.selected_rows())

    def open_run_dialog(self, image: str = "") -> RunDialog:
        """Open the run dialog (non-modal); it creates and starts the container on OK."""
        dialog = RunDialog(
            self._client, self._tasks, self._report, self._image_names(), image, parent=self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.run_dialog = dialog
        dialog.open()
        return dialog

    def open_in_browser(self) -> str | None:
        """Open the first published port of the (single) selected container; its URL."""
        rows = self.selected_rows()
        if len(rows) != 1 or not rows[0].urls:
            return None
        url = rows[0].urls[0]
        self.open_url(QUrl(url))
        return url

    def open_details(self, container_id: str | None = None) -> ContainerDetailDialog | None:
        """The details window of this container (the selected one by default); an open one is
        brought to the front. None without a single selected container."""
        if container_id is None:
            rows = self.selected_rows()
            if len(rows) != 1:
                return None
            container_id = rows[0].id
        dialog = self.details.get(container_id)
        if dialog is None:
            dialog = ContainerDetailDialog(self._client, self._containers, container_id, self)
            dialog.finished.connect(lambda _result, cid=container_id: self._details_closed(cid))
            self.details[container_id] = dialog
            dialog.start()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _details_closed(self, container_id: str) -> None:
        dialog = self.details.pop(container_id, None)
        if dialog is not None:
            self._tasks.spawn(dialog.dispose(), name="details-close")

    def _double_clicked(self, index: QModelIndex) -> None:
        header = self.table.model().headerData(index.column(), Qt.Orientation.Horizontal)
        if header == "Ports" and self.open_in_browser() is not None:
            return
        self.open_details(self.model.row_at(index.row()).id)

    def update_actions(self) -> None:
        rows = self.selected_rows()
        self.open_action.setEnabled(len(rows) == 1 and bool(rows[0].urls))
        self.details_action.setEnabled(len(rows) == 1)
        for verb, action in self.verb_actions.items():
            action.setEnabled(bool(rows) and all(verb in allowed_actions(r.state) for r in rows))
        self.logs.show_container(rows[0].id if len(rows) == 1 else None)

    async def aclose(self) -> None:
        await self.logs.aclose()
        details, self.details = list(self.details.values()), {}
        for dialog in details:
            if isValid(dialog):
                dialog.hide()
            await dialog.aclose()
