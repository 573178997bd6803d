"""``Tray``: the system tray icon and its menu — open the dashboard, start/stop/restart the
engine, a submenu per running Compose project and per other running container (stop, restart,
logs, open a published port), the notifications switch, quit — and the tray messages that tell
of failing containers.

The icon shows the engine's state with the SVGs of ``resources/icons``. The menu is built
whether or not the desktop has a tray (offscreen has none), so it can be inspected; the icon
itself only exists where ``QSystemTrayIcon.isSystemTrayAvailable()``. The tray asks for the
dashboard, a container's logs and quitting through signals, which the app connects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.state.container_alerts import Notice
from desktop_app.state.notification_settings import NotificationSettings
from desktop_app.state.resources import ContainersStore
from desktop_app.state.tray_menu import TrayContainer, TrayMenu, TrayProject, tray_menu
from desktop_app.views.container_actions import ContainerActions
from desktop_app.views.engine_controls import EngineControls, state_icon

ICONS_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
#: the icon of each engine state (stopping is shown as a change under way, like starting)
ICON_FILES = {
    EngineState.STARTING: "engine-starting.svg",
    EngineState.RUNNING: "engine-running.svg",
    EngineState.STOPPING: "engine-starting.svg",
    EngineState.STOPPED: "engine-stopped.svg",
    EngineState.ERROR: "engine-error.svg",
}
MESSAGE_MS = 10_000
NOTIFY_TEXT = "Notify when a container fails"

_icons: dict[EngineState, QIcon] = {}


def tray_icon(state: EngineState) -> QIcon:
    """The state's SVG icon (the drawn circle of the window if the file cannot be loaded)."""
    if state not in _icons:
        path = ICONS_DIR / ICON_FILES[state]
        icon = QIcon(str(path)) if path.is_file() else QIcon()
        _icons[state] = state_icon(state) if icon.isNull() else icon
    return _icons[state]


class Tray(QObject):
    #: Open dashboard (or a click on the icon)
    dashboard_requested = Signal()
    #: a container's Logs, or a click on a message about it: the container's ID
    logs_requested = Signal(str)
    #: Quit Doca
    quit_requested = Signal()
    #: a tray message was shown (the ``Notice``)
    notice_shown = Signal(object)

    def __init__(
        self,
        engine: EngineControls,
        containers: ContainersStore,
        actions: ContainerActions,
        notifications: NotificationSettings,
    ) -> None:
        super().__init__()
        self._containers = containers
        self._actions = actions
        #: Replaced in tests; opening a URL is the desktop's business.
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self.entries = TrayMenu()
        self.state = EngineState.STOPPED
        self.current_icon = tray_icon(self.state)
        self.last_notice: Notice | None = None
        self._built = False
        self._project_menus: dict[str, QMenu] = {}
        #: every running container's submenu (inside a project's or not), by container ID
        self._container_menus: dict[str, QMenu] = {}

        self.menu = QMenu()
        self.menu.addAction("Open dashboard").triggered.connect(
            lambda: self.dashboard_requested.emit()
        )
        self.menu.addSeparator()
        self.state_action = self.menu.addAction("Engine: …")
        self.state_action.setEnabled(False)
        for action in (engine.start_action, engine.stop_action, engine.restart_action):
            self.menu.addAction(action)
        self.projects_section = self.menu.addSection("Compose projects")
        self.containers_section = self.menu.addSection("Running containers")
        self._after_containers = self.menu.addSeparator()
        self.notify_action = self.menu.addAction(NOTIFY_TEXT)
        self.notify_action.setCheckable(True)
        self.notify_action.setChecked(notifications.enabled)
        self.notify_action.toggled.connect(notifications.set_enabled)
        self.menu.addSeparator()
        self.menu.addAction("Quit Doca").triggered.connect(lambda: self.quit_requested.emit())

        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon(self.current_icon)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
            self.icon.messageClicked.connect(self._message_clicked)
            self.icon.show()
        self._unsubscribe = [
            containers.add_listener(self._rebuild),
            notifications.add_listener(self.notify_action.setChecked),
        ]
        self._rebuild()
        engine.on_status(self._engine_status)

    @property
    def available(self) -> bool:
        """Whether a real tray icon is shown (else closing the window should quit)."""
        return self.icon is not None

    # --- the menu ------------------------------------------------------------------------

    def container_menu_titles(self) -> list[str]:
        """The running containers outside any Compose project, as listed."""
        return [self._container_menus[c.id].title() for c in self.entries.containers]

    def container_menu(self, name: str) -> QMenu | None:
        """The submenu of a running container, inside a project's or not."""
        return next((m for m in self._container_menus.values() if m.title() == name), None)

    def project_menu_titles(self) -> list[str]:
        return [self._project_menus[p.name].title() for p in self.entries.projects]

    def project_menu(self, project: str) -> QMenu | None:
        return self._project_menus.get(project)

    def _rebuild(self) -> None:
        # Only when what is listed changed: a reload that changes nothing (most do) leaves a
        # menu the user may have open as it is.
        entries = tray_menu(self._containers.rows)
        if self._built and entries == self.entries:
            return
        self._built = True
        # A project's menu takes its containers' submenus with it.
        old_lone = [self._container_menus[c.id] for c in self.entries.containers]
        for menu in [*self._project_menus.values(), *old_lone]:
            self.menu.removeAction(menu.menuAction())
            menu.deleteLater()
        self.entries = entries
        self._project_menus = {}
        self._container_menus = {}
        for project in entries.projects:
            menu = self._project_submenu(project)
            self.menu.insertMenu(self.containers_section, menu)
            self._project_menus[project.name] = menu
        for container in entries.containers:
            menu = self._container_submenu(container, self.menu)
            self.menu.insertMenu(self._after_containers, menu)
            self._container_menus[container.id] = menu
        self.projects_section.setVisible(bool(entries.projects))
        self.containers_section.setVisible(bool(entries.containers) or entries.empty)
        self.containers_section.setText(
            "No running containers" if entries.empty else "Running containers"
        )

    def _project_submenu(self, project: TrayProject) -> QMenu:
        menu = QMenu(project.title, self.menu)
        rows = list(project.rows)
        menu.addAction("Stop project").triggered.connect(lambda: self._actions.run("stop", rows))
        menu.addAction("Restart project").triggered.connect(
            lambda: self._actions.run("restart", rows)
        )
        menu.addSeparator()
        for container in project.containers:
            submenu = self._container_submenu(container, menu)
            menu.addMenu(submenu)
            self._container_menus[container.id] = submenu
        return menu

    def _container_submenu(self, container: TrayContainer, parent: QMenu) -> QMenu:
        menu = QMenu(container.title, parent)
        row = container.row
        menu.addAction("Stop").triggered.connect(lambda: self._actions.run("stop", [row]))
        menu.addAction("Restart").triggered.connect(lambda: self._actions.run("restart", [row]))
        menu.addAction("Logs").triggered.connect(lambda: self.logs_requested.emit(row.id))
        if container.urls:
            menu.addSeparator()
        for url in container.urls:
            menu.addAction(f"Open {url}").triggered.connect(
                lambda _=False, u=url: self.open_url(QUrl(u))
            )
        return menu

    # --- the icon and its messages -------------------------------------------------------

    def _engine_status(self, status: EngineStatus) -> None:
        self.state_action.setText(status.summary())
        if status.state is not self.state:
            self.state = status.state
            self.current_icon = tray_icon(status.state)
            if self.icon is not None:
                self.icon.setIcon(self.current_icon)
        if self.icon is not None:
            self.icon.setToolTip(f"Doca — {status.summary()}")

    def show_notice(self, notice: Notice) -> bool:
        """Show ``notice`` as a tray message; False where there is no tray to show it in."""
        if self.icon is None or not self.icon.isVisible():
            return False
        self.last_notice = notice
        self.icon.showMessage(
            notice.title, notice.text, QSystemTrayIcon.MessageIcon.Warning, MESSAGE_MS
        )
        self.notice_shown.emit(notice)
        return True

    def _message_clicked(self) -> None:
        if self.last_notice is not None:
            self.logs_requested.emit(self.last_notice.container_id)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.dashboard_requested.emit()

    def hide(self) -> None:
        """Take the icon away and stop following the stores (the app is quitting)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self.icon is not None:
            self.icon.hide()
