"""``SettingsView``: the engine's socket and data root, how the app runs the engine (natively,
rootless or in a VM, and the VM's CPUs, memory and disk), whether the app starts the engine,
and whether it starts at login. The mode and the VM's size apply at the next engine start, the
socket and data root at the app's next start, "start at login" at once. Saving and Revert read
and write the files in a thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.state.autostart import launch_command
from desktop_app.state.engine_mode import EngineMode, current_platform, default_mode
from desktop_app.state.settings import DEFAULT_DATA_ROOT, Settings, SettingsError, SettingsFiles
from desktop_app.tasks import TaskOwner
from desktop_app.views.file_dialogs import ask_directory
from desktop_app.views.form_parts import PROBLEM_STYLE
from desktop_app.views.prompts import error_text
from doca.client.transport import DEFAULT_HOST

log = logging.getLogger(__name__)

RESTART_NOTE = (
    "The engine mode and the VM's CPUs, memory and disk apply at the next engine start "
    "(Restart engine); the socket and data root when Doca Desktop starts next."
)
MAX_CPUS = 64


class SettingsView(QWidget):
    def __init__(
        self,
        files: SettingsFiles,
        tasks: TaskOwner,
        launch: Callable[[], Sequence[str]] = launch_command,
        parent: QWidget | None = None,
        default: EngineMode | None = None,
    ) -> None:
        super().__init__(parent)
        self.files = files
        self._tasks = tasks
        self._launch = launch
        here = current_platform()
        self.default_mode = default or default_mode(here.system, here.euid)
        self.loaded: Settings | None = None
        self.mode_box = QComboBox()
        self.mode_box.addItem(f"Default: {self.default_mode.label}", "")
        for mode in EngineMode:
            self.mode_box.addItem(mode.label, mode.value)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        self.cpus_box = QSpinBox()
        self.cpus_box.setRange(1, MAX_CPUS)
        self.memory_edit = QLineEdit()
        self.memory_edit.setPlaceholderText("e.g. 2g, 512m (at least 256m)")
        self.disk_edit = QLineEdit()
        self.disk_edit.setPlaceholderText("e.g. 20g (at least 1g; grown, never shrunk)")
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText(f"$DOCKER_HOST, else {DEFAULT_HOST}")
        self.data_root_edit = QLineEdit()
        self.data_root_edit.setPlaceholderText(DEFAULT_DATA_ROOT)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_data_root)
        data_root = QWidget()
        row = QHBoxLayout(data_root)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.data_root_edit, 1)
        row.addWidget(browse)
        self.keys_edit = QLineEdit()
        self.keys_edit.setPlaceholderText("~/keys/release.pub, … (images they signed get a badge)")
        self.start_engine_box = QCheckBox("Start the engine with the app when none is running")
        self.login_box = QCheckBox("Start Doca Desktop at login (in the tray)")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.reload)
        self.status = QLabel(RESTART_NOTE)
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Engine socket or host", self.host_edit)
        form.addRow("Engine mode", self.mode_box)
        form.addRow("VM CPUs", self.cpus_box)
        form.addRow("VM memory", self.memory_edit)
        form.addRow("VM disk", self.disk_edit)
        form.addRow("Engine data root", data_root)
        form.addRow("Trusted signing keys", self.keys_edit)
        form.addRow(self.start_engine_box)
        form.addRow(self.login_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._load_now()

    def settings(self) -> Settings:
        """What the form says now (and what it does not show, as loaded)."""
        return replace(
            self.loaded or Settings(),
            engine_host=self.host_edit.text().strip(),
            data_root=self.data_root_edit.text().strip(),
            start_engine=self.start_engine_box.isChecked(),
            start_at_login=self.login_box.isChecked(),
            trust_keys=self.keys_edit.text().strip(),
            engine_mode=self.mode_box.currentData() or "",
            vm_cpus=self.cpus_box.value(),
            vm_memory=self.memory_edit.text().strip(),
            vm_disk=self.disk_edit.text().strip(),
        )

    def show_settings(self, settings: Settings) -> None:
        self.host_edit.setText(settings.engine_host)
        self.data_root_edit.setText(settings.data_root)
        self.keys_edit.setText(settings.trust_keys)
        self.start_engine_box.setChecked(settings.start_engine)
        self.login_box.setChecked(settings.start_at_login)
        found = self.mode_box.findData(settings.engine_mode)
        self.mode_box.setCurrentIndex(max(found, 0))  # a mode this version does not know
        self.cpus_box.setValue(settings.vm_cpus)
        self.memory_edit.setText(settings.vm_memory)
        self.disk_edit.setText(settings.vm_disk)
        self._mode_changed()

    def chosen_mode(self) -> EngineMode:
        """The mode the engine starts in next with what the form says."""
        value = self.mode_box.currentData()
        return EngineMode(value) if value else self.default_mode

    def _mode_changed(self) -> None:
        vm = self.chosen_mode() is EngineMode.VM
        for field in (self.cpus_box, self.memory_edit, self.disk_edit):
            field.setEnabled(vm)

    def _load_now(self) -> None:
        # One small file, read once as the window is built (as the app's other settings are);
        # later reads (Revert) run in a thread.
        try:
            self.loaded = self.files.load()
        except SettingsError as exc:
            self._show_status(f"Cannot read the settings: {exc}", error=True)
            self.show_settings(Settings())
        else:
            self.show_settings(self.loaded)

    def reload(self) -> asyncio.Task[Settings]:
        """Read the saved settings into the form."""
        return self._run(self._load(), "Cannot read the settings")

    def save(self) -> asyncio.Task[Settings] | None:
        """Save the form (the "Save" button); None when it holds something unusable, which is
        shown instead."""
        settings = self.settings()
        problems = settings.problems()
        if problems:
            self._show_status("Not saved: " + "; ".join(problems), error=True)
            return None
        return self._run(self._save(settings), "Cannot save the settings")

    async def _load(self) -> Settings:
        settings = await asyncio.to_thread(self.files.load)
        self.loaded = settings
        self.show_settings(settings)
        self._show_status(RESTART_NOTE)
        return settings

    async def _save(self, settings: Settings) -> Settings:
        # Finding the launch command searches $PATH: in the thread too.
        await asyncio.to_thread(lambda: self.files.save(settings, list(self._launch())))
        restart = self.loaded is not None and engine_part(settings) != engine_part(self.loaded)
        self.loaded = settings
        self._show_status("Saved. " + (RESTART_NOTE if restart else ""))
        return settings

    def _run(self, work: Coroutine[Any, Any, Settings], failure: str) -> asyncio.Task[Settings]:
        def failed(exc: BaseException) -> None:
            if not isinstance(exc, SettingsError):
                log.error("%s", failure, exc_info=exc)
            text = str(exc) if isinstance(exc, SettingsError) else error_text(exc)
            self._show_status(f"{failure}: {text}", error=True)

        return self._tasks.spawn(work, name="settings", on_error=failed)

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text.strip())
        self.status.setStyleSheet(PROBLEM_STYLE if error else "")

    def _choose_data_root(self) -> None:
        path = ask_directory(self, "Engine data root", self.data_root_edit.text())
        if path is not None:
            self.data_root_edit.setText(str(path))


def engine_part(settings: Settings) -> tuple[object, ...]:
    """What only a (re)start of the engine or of the app puts into effect."""
    return (settings.engine_host, settings.data_root, settings.start_engine, settings.engine_mode,
            settings.vm_cpus, settings.vm_memory, settings.vm_disk)  # fmt: skip
