"""``VolumesPanel``: volumes with driver, the containers that use them and mountpoint; create (a
dialog with labels and driver options), remove, prune, and a volume's content exported to a tar
file or imported from one, with the transfer's progress under the toolbar."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from desktop_app.qtmodels.resources import VolumesModel
from desktop_app.state.image_details import prune_summary
from desktop_app.state.resources import ContainersStore, VolumesStore
from desktop_app.state.rows import VolumeRow
from desktop_app.state.volume_archives import HELPER_IMAGE, export_volume, import_volume
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.file_dialogs import SavePathChooser, ask_save_path
from desktop_app.views.progress_row import ProgressRow
from desktop_app.views.prompts import ErrorReporter, Prompts, show_later
from desktop_app.views.table_panel import TablePanel
from desktop_app.views.volume_dialog import VolumeDialog
from doca.client import EngineClient

ARCHIVES = "Tar archives (*.tar);;All (*)"


class VolumesPanel(TablePanel[VolumeRow]):
    def __init__(
        self,
        client: EngineClient,
        store: VolumesStore,
        tasks: TaskOwner,
        prompts: Prompts,
        report: ErrorReporter,
        parent: QWidget | None = None,
        containers: ContainersStore | None = None,
        helper_image: str = HELPER_IMAGE,
    ) -> None:
        super().__init__(VolumesModel(store, containers), store, parent)
        self._client = client
        self._tasks = tasks
        self._prompts = prompts
        self._report = report
        #: The image of the helper container that copies a volume's content (needs ``sleep``).
        self.helper_image = helper_image
        #: Asks where to save an export; replaced in tests.
        self.choose_save_path: SavePathChooser = ask_save_path
        self.create_dialog: VolumeDialog | None = None
        self.add_action("Create…", self.open_create_dialog, "Create a volume")
        self.remove_action = self.add_action("Remove", self.remove_selected, "Remove selected")
        self.add_menu_button(
            "Prune",
            [
                ("Anonymous volumes…", lambda: self.prune(False)),
                ("All unused volumes…", lambda: self.prune(True)),
            ],
        )
        self.toolbar.addSeparator()
        self.export_action = self.add_action(
            "Export…", self.export_selected, "Save the volume's content as a tar file"
        )
        self.import_action = self.add_action(
            "Import…", self.import_selected, "Extract a tar file into the volume"
        )
        self.progress_row = ProgressRow()
        self.layout_.insertWidget(1, self.progress_row)
        self.update_actions()

    def update_actions(self) -> None:
        rows = self.selected_rows()
        busy = self.progress_row.running
        self.remove_action.setEnabled(bool(rows))
        self.export_action.setEnabled(len(rows) == 1 and not busy)
        self.import_action.setEnabled(len(rows) == 1 and not busy)

    def open_create_dialog(self) -> VolumeDialog:
        """The create dialog (non-modal); it creates the volume on OK."""
        dialog = VolumeDialog(self._client, self._tasks, self._report, parent=self)
        self.create_dialog = dialog
        dialog.open()
        return dialog

    def create_volume(self, name: str | None = None) -> asyncio.Task[None] | None:
        """Create a local volume by name alone; without ``name`` the user is asked (an empty
        answer: a random name). The dialog asks for labels and driver options too."""
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
        text = f"Remove {', '.join(r.name for r in rows)}? Their data is lost."
        users = sorted({user for r in rows for user in r.users})
        if users:
            text += f" In use by {', '.join(users)}: remove those containers first."
        if not self._prompts.confirm("Remove volumes", text):
            return None

        async def remove() -> None:
            for row in rows:
                await self._client.volumes.remove(row.name)

        return self._tasks.spawn(
            remove(), name="volume-remove", on_error=self._report.handler("Could not remove")
        )

    def prune(self, all_unused: bool = False) -> asyncio.Task[None] | None:
        """`docker volume prune` (``-a`` with ``all_unused``), asked first."""
        what = "every volume no container uses" if all_unused else "every anonymous volume"
        if not self._prompts.confirm("Prune volumes", f"Remove {what}? Their data is lost."):
            return None

        async def prune() -> None:
            answer = await self._client.volumes.prune(all=all_unused)
            text = prune_summary("volumes", answer, "VolumesDeleted")
            self.progress_row.finish(text)
            show_later(lambda: self._prompts.info("Prune volumes", text))

        return self._tasks.spawn(prune(), name="prune", on_error=self._report.handler("Prune"))

    # --- content ---------------------------------------------------------------------------

    def export_selected(self) -> asyncio.Task[int] | None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        path = self.choose_save_path(self, "Export volume", f"{rows[0].name}.tar", ARCHIVES)
        return None if path is None else self.export_volume(rows[0].name, path)

    def import_selected(self) -> asyncio.Task[int] | None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        path = self._prompts.open_file(f"Import into {rows[0].name}", ARCHIVES)
        return None if path is None else self.import_volume(rows[0].name, path)

    def export_volume(self, volume: str, path: Path) -> asyncio.Task[int]:
        """Write the volume's content to the tar file ``path``."""
        text = f"Exporting {volume} to {path.name}…"

        async def export() -> int:
            size = await export_volume(
                self._client, volume, path, self.helper_image,
                lambda done, total: self.progress_row.step(text, done, total),
            )  # fmt: skip
            self.progress_row.finish(f"Exported {volume} to {path}")
            return size

        return self._track(export(), text, f"Exporting {volume} failed")

    def import_volume(self, volume: str, path: Path) -> asyncio.Task[int]:
        """Extract the tar file ``path`` into the volume."""
        text = f"Importing {path.name} into {volume}…"

        async def import_() -> int:
            size = await import_volume(
                self._client, volume, path, self.helper_image,
                lambda done, total: self.progress_row.step(text, done, total),
            )  # fmt: skip
            self.progress_row.finish(f"Imported {path.name} into {volume}")
            return size

        return self._track(import_(), text, f"Importing into {volume} failed")

    def _track(self, work: Coroutine[Any, Any, int], text: str, failure: str) -> asyncio.Task[int]:
        task = self._tasks.spawn(work, name="volume-copy", on_error=self._failed(failure))
        self.progress_row.start(text, task)
        task.add_done_callback(lambda _: self.update_actions())
        self.update_actions()
        return task

    def _failed(self, title: str) -> ErrorHandler:
        def failed(exc: BaseException) -> None:
            self.progress_row.finish(title)
            self._report(title, exc)

        return failed
