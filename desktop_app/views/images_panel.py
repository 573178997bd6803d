"""``ImagesPanel``: images with size and the containers made from them; run, tag, push, history,
remove (force asked for when the engine wants it), prune (dangling or all unused), pull, build,
and load from / save to a `docker save` archive, a transfer's progress shown under the toolbar."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtWidgets import QDialog, QWidget

from desktop_app.qtmodels.resources import ImagesModel
from desktop_app.state.engine_calls import save_images
from desktop_app.state.file_streams import write_chunks
from desktop_app.state.image_details import TagError, needs_force, prune_summary, tag_target
from desktop_app.state.resources import ContainersStore, ImagesStore
from desktop_app.state.rows import ImageRow
from desktop_app.state.settings import SettingsFiles
from desktop_app.state.signatures import SignatureChecks, trusted_keys
from desktop_app.tasks import ErrorHandler, TaskOwner
from desktop_app.views.build_dialog import BuildDialog
from desktop_app.views.file_dialogs import SavePathChooser, ask_save_path
from desktop_app.views.history_dialog import HistoryDialog
from desktop_app.views.progress_row import ProgressRow
from desktop_app.views.prompts import ErrorReporter, Prompts, show_later
from desktop_app.views.pull_dialog import PullDialog
from desktop_app.views.push_dialog import PushDialog
from desktop_app.views.table_panel import TablePanel
from doca.client import Conflict, EngineClient

D = TypeVar("D", bound=QDialog)


def _name(row: ImageRow) -> str:
    """What the user calls the image: its tag, or the short ID of an untagged one."""
    return row.repo_tag if row.key == row.repo_tag else row.id


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
        self.signatures = SignatureChecks(
            lambda coro, name: tasks.spawn(coro, name=name),
            trusted_keys(SettingsFiles.from_environ()),
        )
        model = ImagesModel(store, containers, self.signatures)
        super().__init__(model, store, parent)
        self.images_model = model
        self._client = client
        self._images = store
        self._tasks = tasks
        self._prompts = prompts
        self._report = report
        self._run_image = run_image
        #: Asks where to save an archive; replaced in tests.
        self.choose_save_path: SavePathChooser = ask_save_path
        self.run_action = self.add_action("Run…", self._run_selected, "Run the selected image")
        self.tag_action = self.add_action("Tag…", self.tag_selected, "Give the image a new name")
        self.push_action = self.add_action("Push…", self.open_push_dialog, "docker push")
        self.history_action = self.add_action("History…", self.open_history, "Layers and steps")
        self.remove_action = self.add_action("Remove", self.remove_selected, "Remove (untag)")
        self.add_menu_button(
            "Prune",
            [
                ("Dangling images…", lambda: self.prune(False)),
                ("All unused images…", lambda: self.prune(True)),
            ],
        )
        self.toolbar.addSeparator()
        self.pull_action = self.add_action("Pull…", self.open_pull_dialog, "docker pull an image")
        self.build_action = self.add_action("Build…", self.open_build_dialog, "docker build")
        self.add_action("Load from file…", self._choose_archive, "docker load an archive")
        self.save_action = self.add_action("Save to file…", self.save_selected, "docker save")
        self.pull_dialog: PullDialog | None = None
        self.push_dialog: PushDialog | None = None
        self.build_dialog: BuildDialog | None = None
        self.history: HistoryDialog | None = None
        self.progress_row = ProgressRow()
        self.progress, self.progress_text = self.progress_row.bar, self.progress_row.text
        self.layout_.insertWidget(1, self.progress_row)
        self.update_actions()

    def update_actions(self) -> None:
        rows = self.selected_rows()
        for action in (self.run_action, self.tag_action, self.history_action):
            action.setEnabled(len(rows) == 1)
        self.push_action.setEnabled(len(rows) == 1 and rows[0].key == rows[0].repo_tag)
        self.remove_action.setEnabled(bool(rows))
        self.save_action.setEnabled(bool(rows))

    def _run_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self._run_image(_name(rows[0]))

    # --- names -----------------------------------------------------------------------------

    def tag_selected(self, new_name: str | None = None) -> asyncio.Task[None] | None:
        """`docker tag` the selected image; without ``new_name`` the user is asked."""
        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        source = rows[0].key
        if new_name is None:
            new_name = self._prompts.ask_text("Tag image", f"New name for {_name(rows[0])}:")
            if new_name is None:
                return None
        try:
            repo, tag = tag_target(new_name)
        except TagError as exc:
            text = str(exc)
            show_later(lambda: self._prompts.error("Cannot tag", text))
            return None
        return self._tasks.spawn(
            self._client.images.tag(source, repo, tag),
            name="image-tag",
            on_error=self._report.handler(f"Could not tag {_name(rows[0])}"),
        )

    def remove_selected(self) -> asyncio.Task[None] | None:
        rows = self.selected_rows()
        if not rows:
            return None
        text = f"Remove {', '.join(_name(r) for r in rows)}?"
        users = sorted({user for r in rows for user in r.users})
        if users:
            text += f" Containers were made from it: {', '.join(users)}."
        if not self._prompts.confirm("Remove images", text):
            return None
        return self._spawn_remove(rows, force=False)

    def _spawn_remove(self, rows: Sequence[ImageRow], force: bool) -> asyncio.Task[None]:
        return self._tasks.spawn(
            self._remove(list(rows), force),
            name="image-remove",
            on_error=self._report.handler("Could not remove"),
        )

    async def _remove(self, rows: list[ImageRow], force: bool) -> None:
        for done, row in enumerate(rows):
            try:
                await self._client.images.remove(row.key, force=force)
            except Conflict as exc:
                if force or not needs_force(exc.message):
                    raise
                # Asked from the Qt loop (a modal question must not run inside this task).
                show_later(partial(self._ask_force, rows[done:], exc.message))
                return

    def _ask_force(self, rows: list[ImageRow], message: str) -> None:
        names = ", ".join(_name(r) for r in rows)
        if self._prompts.confirm("Remove images", f"{message}.\n\nRemove {names} anyway?"):
            self._spawn_remove(rows, force=True)

    def prune(self, all_unused: bool = False) -> asyncio.Task[str] | None:
        """`docker image prune` (``-a`` with ``all_unused``), asked first; what it reclaimed is
        shown under the toolbar."""
        what = "every image no container uses" if all_unused else "all dangling images"
        if not self._prompts.confirm("Prune images", f"Remove {what}?"):
            return None

        async def prune() -> str:
            answer = await self._client.images.prune(dangling_only=not all_unused)
            summary = prune_summary("images", answer, "ImagesDeleted")
            self.progress_row.finish(summary)
            return summary

        return self._tasks.spawn(prune(), name="prune", on_error=self._report.handler("Prune"))

    # --- dialogs ---------------------------------------------------------------------------

    def _raise(self, dialog: D) -> D:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def open_pull_dialog(self, reference: str = "") -> PullDialog:
        """The pull dialog (one at a time: reopening shows the one that may still be pulling)."""
        dialog = self.pull_dialog
        if dialog is None:
            dialog = PullDialog(self._client, self._tasks, self._report, reference, parent=self)
            self.pull_dialog = dialog
        elif reference and not dialog.busy:
            dialog.reference_edit.setText(reference)
        return self._raise(dialog)

    def open_push_dialog(self, reference: str = "") -> PushDialog:
        """The push dialog, on the selected image's name unless ``reference`` is given."""
        rows = self.selected_rows()
        reference = reference or (rows[0].repo_tag if len(rows) == 1 else "")
        dialog = self.push_dialog
        if dialog is None:
            dialog = PushDialog(self._client, self._tasks, self._report, reference, parent=self)
            self.push_dialog = dialog
        elif reference and not dialog.busy:
            dialog.reference_edit.setText(reference)
        return self._raise(dialog)

    def open_build_dialog(self) -> BuildDialog:
        if self.build_dialog is None:
            self.build_dialog = BuildDialog(self._client, self._tasks, parent=self)
        return self._raise(self.build_dialog)

    def open_history(self, image: str | None = None) -> HistoryDialog | None:
        """The layers of ``image`` (the selected one by default), loaded afresh."""
        rows = self.selected_rows()
        if image is None and len(rows) != 1:
            return None
        image = image or rows[0].key
        if self.history is not None:
            self.history.reject()
        self.history = HistoryDialog(self._client, self._tasks, image, parent=self)
        self.history.load()
        return self._raise(self.history)

    # --- archives --------------------------------------------------------------------------

    def _choose_archive(self) -> None:
        path = self._prompts.open_file("Load images", "Image archives (*.tar *.tar.gz);;All (*)")
        if path is not None:
            self.load_from_file(path)

    def load_from_file(self, path: Path) -> asyncio.Task[None]:
        """`docker load -i path`, with its progress shown (the "Load from file…" handler)."""
        task = self._tasks.spawn(
            self._load(path), name="image-load", on_error=self._transfer_failed("Loading", path)
        )
        self.progress_row.start(f"Loading {path.name}…", task)
        return task

    async def _load(self, path: Path) -> None:
        async for message in self._client.images.load(path):
            self._show_progress(message)
        self.progress_row.finish(self.progress_text.text())

    def _show_progress(self, message: dict[str, Any]) -> None:
        text = (message.get("stream") or message.get("status") or "").strip()
        if text:
            self.progress_text.setText(text)
        detail = message.get("progressDetail") or {}
        if detail.get("total"):
            self.progress.setRange(0, int(detail["total"]))
            self.progress.setValue(int(detail.get("current") or 0))

    def save_selected(self) -> asyncio.Task[int] | None:
        """Ask where, then save the selected images into one archive."""
        rows = self.selected_rows()
        if not rows:
            return None
        suggested = _name(rows[0]).replace("/", "_").replace(":", "_") + ".tar"
        path = self.choose_save_path(self, "Save images", suggested, "Image archives (*.tar)")
        if path is None:
            return None
        return self.save_to_file([r.key for r in rows], path)

    def save_to_file(self, names: Sequence[str], path: Path) -> asyncio.Task[int]:
        """`docker save -o path names…`; the file appears only once the archive is whole."""
        estimate = self._size_of(names)
        task = self._tasks.spawn(
            self._save(list(names), path, estimate),
            name="image-save",
            on_error=self._transfer_failed("Saving", path),
        )
        self.progress_row.start(f"Saving {path.name}…", task)
        return task

    async def _save(self, names: list[str], path: Path, estimate: int) -> int:
        def progress(done: int) -> None:
            self.progress_row.step(f"Saving {path.name}…", done, estimate, estimate=True)

        size = await write_chunks(save_images(self._client, names), path, progress)
        self.progress_row.finish(f"Saved {len(names)} image(s) to {path}")
        return size

    def _size_of(self, names: Sequence[str]) -> int:
        """About the size of their archive: the images' sizes (each image counted once)."""
        sizes = {}
        for image in self._images.rows:
            if image.get("Id") in names or set(image.get("RepoTags") or []) & set(names):
                sizes[image.get("Id")] = int(image.get("Size") or 0)
        return sum(sizes.values())

    def _transfer_failed(self, doing: str, path: Path) -> ErrorHandler:
        def failed(exc: BaseException) -> None:
            self.progress_row.finish(f"{doing} {path.name} failed")
            self._report(f"{doing} {path.name} failed", exc)

        return failed
