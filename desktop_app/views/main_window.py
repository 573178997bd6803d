"""``MainWindow``: a sidebar (Containers, Images, Volumes, Events, Settings), the pages, an
Engine menu, a Registries menu with the docker config's logins, and a status bar with the
engine's state. Closing it hides it while the tray keeps the app running."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.state.session import EngineSession
from desktop_app.state.settings import SettingsFiles
from desktop_app.tasks import TaskOwner
from desktop_app.views.container_actions import ContainerActions
from desktop_app.views.containers_panel import ContainersPanel
from desktop_app.views.engine_controls import EngineControls, state_icon
from desktop_app.views.engines_dialog import EnginesDialog
from desktop_app.views.events_view import EventsView
from desktop_app.views.images_panel import ImagesPanel
from desktop_app.views.prompts import ErrorReporter, Prompts
from desktop_app.views.registries_view import RegistriesDialog
from desktop_app.views.settings_view import SettingsView
from desktop_app.views.volumes_panel import VolumesPanel

PAGES = ("Containers", "Images", "Volumes", "Events", "Settings")


class MainWindow(QMainWindow):
    def __init__(
        self,
        session: EngineSession,
        engine: EngineControls,
        container_actions: ContainerActions,
        tasks: TaskOwner,
        prompts: Prompts,
        report: ErrorReporter,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Doca")
        self.resize(1100, 700)
        #: Closing hides the window (the tray brings it back) instead of quitting.
        self.hide_on_close = True
        #: Called when the window really closes (the app quits then).
        self.on_close: Callable[[], None] | None = None
        client = session.client
        self.images = ImagesPanel(
            client, session.images, session.containers, tasks, prompts, report, self.run_image
        )
        self.containers = ContainersPanel(
            client,
            session.containers,
            container_actions,
            tasks,
            report,
            self.images.images_model.image_names,
        )
        self.volumes = VolumesPanel(
            client, session.volumes, tasks, prompts, report, containers=session.containers
        )
        self.events = EventsView(session.events, engine.supervisor, tasks)
        self.settings = SettingsView(SettingsFiles.from_environ(), tasks)
        self.sidebar = QListWidget()
        self.sidebar.addItems(list(PAGES))
        self.sidebar.setFixedWidth(140)
        self.pages = QStackedWidget()
        for panel in (self.containers, self.images, self.volumes, self.events, self.settings):
            self.pages.addWidget(panel)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        engine_menu = self.menuBar().addMenu("&Engine")
        for action in (engine.start_action, engine.stop_action, engine.restart_action):
            engine_menu.addAction(action)
        engine_menu.addSeparator()
        self.engines_action = engine_menu.addAction("Engines…")
        self.engines_action.triggered.connect(lambda: self.show_engines())
        #: The engine the app itself starts or connects to, and what switches the app to
        #: another one (set by the app).
        self.local_host = session.client.host
        self.on_switch_engine: Callable[[str], object] | None = None
        self.engines: EnginesDialog | None = None
        self._tasks = tasks
        self._client = client
        self.registries: RegistriesDialog | None = None
        registries_menu = self.menuBar().addMenu("&Registries")
        self.registries_action = registries_menu.addAction("Logins…")
        self.registries_action.triggered.connect(lambda: self.show_registries())
        self.engine_label = QLabel()
        self.statusBar().addPermanentWidget(self.engine_label, 1)
        engine.on_status(self._engine_status)

    def show_page(self, name: str) -> None:
        self.sidebar.setCurrentRow(PAGES.index(name))

    def show_container(self, container_id: str) -> None:
        """Bring the window up on the Containers page with this container (and its log)."""
        self.show_dashboard()
        self.show_page("Containers")
        self.containers.select_key(container_id)

    def show_dashboard(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def run_image(self, image: str) -> None:
        self.show_page("Containers")
        self.containers.open_run_dialog(image)

    def show_registries(self) -> RegistriesDialog:
        """The registry logins (read afresh each time it is opened), with log in and out."""
        if self.registries is None:
            self.registries = RegistriesDialog(self._tasks, parent=self, client=self._client)
        self.registries.refresh()
        self.registries.show()
        self.registries.raise_()
        return self.registries

    def show_engines(self) -> EnginesDialog:
        """The engines the app can manage, each probed afresh; "Use" switches to one."""
        if self.engines is None:
            self.engines = EnginesDialog(
                self._tasks, self.local_host, self._client.host,
                lambda host: self.on_switch_engine and self.on_switch_engine(host), parent=self,
            )  # fmt: skip
        self.engines.refresh()
        self.engines.show()
        self.engines.raise_()
        return self.engines

    def _engine_status(self, status: EngineStatus) -> None:
        self.engine_label.setText(status.summary())
        tail = "\n".join(status.log_lines[-10:])
        self.engine_label.setToolTip(tail if status.state is EngineState.ERROR else "")
        self.setWindowIcon(state_icon(status.state))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.hide_on_close:
            event.ignore()
            self.hide()
        else:
            event.accept()
            if self.on_close is not None:
                self.on_close()
