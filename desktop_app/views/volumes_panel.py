"""``VolumesPanel``: volumes with driver and mountpoint; create, remove and prune."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QWidget

from desktop_app.qtmodels.resources import VolumesModel
from desktop_app.state.resources import VolumesStore
from desktop_app.state.rows import VolumeRow, human_size
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import ErrorReporter, Prompts, show_later
from desktop_app.views.table_panel import TablePanel
from doca.client import EngineClient


class VolumesPanel(TablePanel[VolumeRow]):
    def __init__(
        self,
        client: EngineClient,
        store: VolumesStore,
        tasks: TaskOwner,
        prompts: Prompts,
        report: ErrorReporter,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(VolumesModel(store), store, parent)
        self._client = client
        self._tasks = tasks
        self._prompts = prompts
        self._report = report
        self.add_action("Create…", self.create_volume, "Create a volume")
        self.remove_action = self.add_action("Remove", self.remove_selected, "Remove selected")
        self.add_action("Prune", self.prune, "Remove unused anonymous volumes")
        self.update_actions()

    def update_actions(self) -> None:
        self.remove_action.setEnabled(bool(self.selected_rows()))

    def create_volume(self, name: str | None = None) -> asyncio.Task[None] | None:
        """Create a volume; without ``name`` the user is asked (an empty answer: anonymous)."""
        if name is None:
            name = self._prompts.ask_text("Create volume", "Name (empty for a random one):")
            if name is None:
                return None

        async def create() -> None:
            await self._client.volumes.create(name.strip() or None)

        return self._tasks.spawn(
            create(), name="volume-create", on_error=self._report.handler("Could not create")
        )

    def remove_selected(self) -> asyncio.Task[None] | None:
        rows = self.selected_rows()
        if not rows:
            return None
        names = ", ".join(r.name for r in rows)
        if not self._prompts.confirm("Remove volumes", f"Remove {names}? Their data is lost."):
            return None

        async def remove() -> None:
            for row in rows:
                await self._client.volumes.remove(row.name)

        return self._tasks.spawn(
            remove(), name="volume-remove", on_error=self._report.handler("Could not remove")
        )

    def prune(self) -> asyncio.Task[None] | None:
        text = "Remove every anonymous volume no container uses? Their data is lost."
        if not self._prompts.confirm("Prune volumes", text):
            return None

        async def prune() -> None:
            answer = await self._client.volumes.prune()
            freed = human_size(answer.get("SpaceReclaimed") or 0)
            count = len(answer.get("VolumesDeleted") or [])
            text = f"Removed {count} volumes, reclaimed {freed}."
            show_later(lambda: self._prompts.info("Prune volumes", text))

        return self._tasks.spawn(prune(), name="prune", on_error=self._report.handler("Prune"))
