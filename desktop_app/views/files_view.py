"""``FilesView``: browse a container's files (running or stopped), download a file or folder to a
local folder and upload local files into the directory shown. One transfer at a time, with its
progress; failures show the engine's message here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.qtmodels.file_entries import FileEntriesModel
from desktop_app.state.container_files import (
    DirectoryListing,
    DownloadResult,
    FileEntry,
    child_path,
    clean_path,
    download,
    list_directory,
    parent_path,
    transfer_text,
    upload,
)
from desktop_app.tasks import TaskOwner
from desktop_app.views.form_parts import PROBLEM_STYLE
from desktop_app.views.prompts import failure_text
from doca.client import EngineClient

BAR_STEPS = 1000
LISTING_IDLE_TIMEOUT = 5.0  # a listing is read from the container's disk: it flows or it stalls


class FilesView(QWidget):
    def __init__(
        self,
        client: EngineClient,
        container_id: str,
        tasks: TaskOwner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._container_id = container_id
        self._tasks = tasks
        self.path = "/"
        self.listing: DirectoryListing | None = None
        self.listing_task: asyncio.Task[DirectoryListing] | None = None
        self.transfer: asyncio.Task[Any] | None = None
        # Replaced in tests; choosing local files is the desktop's business.
        self.choose_folder: Callable[[], Path | None] = self._ask_folder
        self.choose_files: Callable[[], list[Path]] = self._ask_files
        self.up_button = QPushButton("Up")
        self.up_button.clicked.connect(self.go_up)
        self.path_edit = QLineEdit(self.path)
        self.path_edit.returnPressed.connect(lambda: self.navigate(self.path_edit.text()))
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Save the selected entry (or this folder) to a folder")
        self.download_button.clicked.connect(self.download_selected)
        self.upload_button = QPushButton("Upload…")
        self.upload_button.setToolTip("Copy local files into this folder of the container")
        self.upload_button.clicked.connect(self.upload_chosen)
        self.model = FileEntriesModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(self._activated)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.up_button)
        bar.addWidget(self.path_edit, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.download_button)
        bar.addWidget(self.upload_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)

    # --- browsing --------------------------------------------------------------------------

    def list_once(self) -> None:
        """List the first directory, unless that has been done (the tab was opened before)."""
        if self.listing is None and self.listing_task is None:
            self.navigate(self.path)

    def navigate(self, path: str) -> asyncio.Task[DirectoryListing]:
        """List the directory ``path`` (an absolute container path) and show it."""
        if self.listing_task is not None and not self.listing_task.done():
            self.listing_task.cancel()
        self.path = clean_path(path)
        self.path_edit.setText(self.path)
        self.up_button.setEnabled(self.path != "/")
        self._say(f"Listing {self.path}…")
        self.listing_task = self._tasks.spawn(
            self._list(self.path), name="list-files", on_error=self._listing_failed(self.path)
        )
        return self.listing_task

    def refresh(self) -> asyncio.Task[DirectoryListing]:
        return self.navigate(self.path)

    def go_up(self) -> asyncio.Task[DirectoryListing]:
        return self.navigate(parent_path(self.path))

    async def _list(self, path: str) -> DirectoryListing:
        listing = await list_directory(
            self._client, self._container_id, path, idle_timeout=LISTING_IDLE_TIMEOUT
        )
        self.listing = listing
        self.model.set_rows(listing.entries)
        count = len(listing.entries)
        text = f"{count} {'entry' if count == 1 else 'entries'}"
        self._say(text if listing.complete else f"{text}, incomplete: {listing.problem}")
        return listing

    def _listing_failed(self, path: str) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            # The directory listed before stays, so a wrong turn costs nothing.
            if self.listing is not None:
                self.path = self.listing.path
                self.path_edit.setText(self.path)
                self.up_button.setEnabled(self.path != "/")
            self._say(f"Cannot list {path}: {failure_text(exc)}", problem=True)

        return failed

    def names(self) -> list[str]:
        """The names in the directory shown."""
        return [entry.name for entry in self.model.rows()]

    def selected_entry(self) -> FileEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row is not None:
            self.table.selectRow(row)
        return row is not None

    def _activated(self, index: QModelIndex) -> None:
        entry = self.model.row_at(index.row())
        if entry.kind in ("dir", "link"):  # a link may lead to a directory: try it
            self.navigate(child_path(self.path, entry.name))

    # --- transfers -------------------------------------------------------------------------

    @property
    def transferring(self) -> bool:
        return self.transfer is not None and not self.transfer.done()

    def download_selected(self) -> asyncio.Task[DownloadResult] | None:
        """Ask for a local folder and download the selected entry (or, with nothing selected,
        the directory shown) into it."""
        if self.transferring:
            return None
        entry = self.selected_entry()
        path = child_path(self.path, entry.name) if entry is not None else self.path
        folder = self.choose_folder()
        return self.download(path, folder) if folder is not None else None

    def download(self, path: str, folder: Path) -> asyncio.Task[DownloadResult]:
        """Copy the container's ``path`` into the local ``folder``."""
        name = clean_path(path).rsplit("/", 1)[-1] or "/"
        self._begin(f"Downloading {name}")

        async def run() -> DownloadResult:
            progress = self._progress(f"Downloading {name}")
            result = await download(self._client, self._container_id, path, folder, progress)
            self._end(self._downloaded(result))
            return result

        task = self._tasks.spawn(run(), name="download", on_error=self._transfer_failed)
        self.transfer = task
        return task

    @staticmethod
    def _downloaded(result: DownloadResult) -> str:
        text = f"Saved {result.target}"
        if result.skipped:
            count = len(result.skipped)
            text += (
                f"; left out {count} {'entry' if count == 1 else 'entries'} that would point "
                f"outside the folder or are devices ({', '.join(result.skipped[:3])}"
                f"{', …' if count > 3 else ''})"
            )
        return text

    def upload_chosen(self) -> asyncio.Task[None] | None:
        """Ask for local files and upload them into the directory shown."""
        if self.transferring:
            return None
        files = self.choose_files()
        return self.upload(files) if files else None

    def upload(self, files: list[Path]) -> asyncio.Task[None]:
        """Copy local files (or folders) into the directory shown, then list it again."""
        directory = self.path
        label = files[0].name if len(files) == 1 else f"{len(files)} files"
        self._begin(f"Uploading {label} to {directory}")

        async def run() -> None:
            progress = self._progress(f"Uploading {label}", "sent, the engine is unpacking it…")
            await upload(self._client, self._container_id, directory, files, progress)
            self._end(f"Uploaded {label} to {directory}")
            if self.path == directory:
                self.refresh()

        task = self._tasks.spawn(run(), name="upload", on_error=self._transfer_failed)
        self.transfer = task
        return task

    def _begin(self, text: str) -> None:
        self.download_button.setEnabled(False)
        self.upload_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.show()
        self._say(f"{text}…")

    def _progress(self, what: str, when_done: str = "") -> Callable[[int, int | None], None]:
        def show(done: int, total: int | None) -> None:
            if total:
                self.progress.setRange(0, BAR_STEPS)
                self.progress.setValue(min(BAR_STEPS, done * BAR_STEPS // total))
            finished = bool(total and done >= total and when_done)
            self._say(f"{what}: {when_done if finished else transfer_text(done, total)}")

        return show

    def _end(self, text: str) -> None:
        self.progress.hide()
        self.download_button.setEnabled(True)
        self.upload_button.setEnabled(True)
        self._say(text)

    def _transfer_failed(self, exc: BaseException) -> None:
        self._end("")
        self._say(failure_text(exc), problem=True)

    def _say(self, text: str, problem: bool = False) -> None:
        self.status.setStyleSheet(PROBLEM_STYLE if problem else "")
        self.status.setText(text)

    # --- local choices ---------------------------------------------------------------------

    def _ask_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Download to folder")
        return Path(folder) if folder else None

    def _ask_files(self) -> list[Path]:
        files, _ = QFileDialog.getOpenFileNames(self, f"Upload into {self.path}")
        return [Path(name) for name in files]
