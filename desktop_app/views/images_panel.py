"""``ImagesPanel``: images with size and in-use marker; run, remove, prune, pull (in a dialog
with its progress), and load from a `docker save` archive with its progress shown under the
toolbar."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from desktop_app.qtmodels.resources import ImagesModel
from desktop_app.state.resources import ContainersStore, ImagesStore
from desktop_app.state.rows import ImageRow, human_size
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import ErrorReporter, Prompts
from desktop_app.views.pull_dialog import PullDialog
from desktop_app.views.table_panel import TablePanel
from doca.client import EngineClient


class ImagesPanel(TablePanel[ImageRow]):
    def __init__(
        self,
        client: EngineClient,
        store: ImagesStore,
        containers: ContainersStore,
        tasks: TaskOwner,
        prompts: Prompts,
        report: ErrorReporter,
        run_image: Callable[[str], object],
        parent: QWidget | None = None,
    ) -> None:
        model = ImagesModel(store, containers)
        super().__init__(model, store, parent)
        self.images_model = model
        self._client = client
        self._tasks = tasks
        self._prompts = prompts
        self._report = report
        self._run_image = run_image
        self.run_action = self.add_action("Run…", self._run_selected, "Run the selected image")
        self.remove_action = self.add_action("Remove", self.remove_selected, "Remove (untag)")
        self.add_action("Prune", self.prune, "Remove dangling images")
        self.toolbar.addSeparator()
        self.pull_action = self.add_action("Pull…", self.open_pull_dialog, "docker pull an image")
        self.pull_dialog: PullDialog | None = None
        self.add_action("Load from file…", self._choose_archive, "docker load an archive")
        self.progress = QProgressBar()
        self.progress_text = QLabel()
        progress_row = QWidget()
        row = QHBoxLayout(progress_row)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.progress_text, 1)
        row.addWidget(self.progress)
        self.progress_row = progress_row
        self.progress_row.hide()
        self.layout_.insertWidget(1, progress_row)
        self.update_actions()

    def update_actions(self) -> None:
        rows = self.selected_rows()
        self.run_action.setEnabled(len(rows) == 1)
        self.remove_action.setEnabled(bool(rows))

    def _run_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self._run_image(rows[0].repo_tag if rows[0].key == rows[0].repo_tag else rows[0].id)

    def remove_selected(self) -> asyncio.Task[None] | None:
        rows = self.selected_rows()
        if not rows:
            return None
        names = ", ".join(r.repo_tag if r.key == r.repo_tag else r.id for r in rows)
        if not self._prompts.confirm("Remove images", f"Remove {names}?"):
            return None

        async def remove() -> None:
            for r in rows:
                await self._client.images.remove(r.key)

        return self._tasks.spawn(
            remove(), name="image-remove", on_error=self._report.handler("Could not remove")
        )

    def prune(self) -> asyncio.Task[None] | None:
        if not self._prompts.confirm("Prune images", "Remove all dangling images?"):
            return None

        async def prune() -> None:
            answer = await self._client.images.prune()
            freed = human_size(answer.get("SpaceReclaimed") or 0)
            count = len(answer.get("ImagesDeleted") or [])
            self.progress_text.setText(f"Pruned {count} images, reclaimed {freed}")
            self.progress_row.show()
            self.progress.hide()

        return self._tasks.spawn(prune(), name="prune", on_error=self._report.handler("Prune"))

    def open_pull_dialog(self, reference: str = "") -> PullDialog:
        """The pull dialog (one at a time: reopening shows the one that may still be pulling)."""
        dialog = self.pull_dialog
        if dialog is None:
            dialog = PullDialog(self._client, self._tasks, self._report, reference, parent=self)
            self.pull_dialog = dialog
        elif reference and not dialog.pulling:
            dialog.reference_edit.setText(reference)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _choose_archive(self) -> None:
        path = self._prompts.open_file("Load images", "Image archives (*.tar *.tar.gz);;All (*)")
        if path is not None:
            self.load_from_file(path)

    def load_from_file(self, path: Path) -> asyncio.Task[None]:
        """`docker load -i path`, with its progress shown (the "Load from file…" handler)."""
        self.progress_text.setText(f"Loading {path.name}…")
        self.progress.setRange(0, 0)  # busy until the engine reports byte counts
        self.progress.show()
        self.progress_row.show()
        return self._tasks.spawn(
            self._load(path),
            name="image-load",
            on_error=self._load_failed(path),
        )

    async def _load(self, path: Path) -> None:
        async for message in self._client.images.load(path):
            self._show_progress(message)
        self.progress.hide()

    def _show_progress(self, message: dict[str, Any]) -> None:
        text = (message.get("stream") or message.get("status") or "").strip()
        if text:
            self.progress_text.setText(text)
        detail = message.get("progressDetail") or {}
        if detail.get("total"):
            self.progress.setRange(0, int(detail["total"]))
            self.progress.setValue(int(detail.get("current") or 0))

    def _load_failed(self, path: Path) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            self.progress.hide()
            self.progress_text.setText(f"Loading {path.name} failed")
            self._report(f"Could not load {path.name}", exc)

        return failed
