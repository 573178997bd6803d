"""``Tray``: the system tray icon and its menu — open the dashboard, start/stop/restart the
engine, one submenu per running container (stop, restart, logs), quit.

The menu is built whether or not the desktop has a tray (offscreen has none), so it can be
inspected; the icon itself only exists where ``QSystemTrayIcon.isSystemTrayAvailable()``."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.engine_status import EngineStatus
from desktop_app.state.resources import ContainersStore
from desktop_app.state.rows import container_rows
from desktop_app.views.container_actions import ContainerActions
from desktop_app.views.engine_controls import EngineControls, state_icon


class Tray(QObject):
    def __init__(
        self,
        engine: EngineControls,
        containers: ContainersStore,
        actions: ContainerActions,
        open_dashboard: Callable[[], None],
        show_container: Callable[[str], None],
        quit_app: Callable[[], None],
    ) -> None:
        super().__init__()
        self._containers = containers
        self._actions = actions
        self._show_container = show_container
        self.menu = QMenu()
        self.menu.addAction("Open dashboard").triggered.connect(lambda: open_dashboard())
        self.menu.addSeparator()
        self.state_action = self.menu.addAction("Engine: …")
        self.state_action.setEnabled(False)
        for action in (engine.start_action, engine.stop_action, engine.restart_action):
            self.menu.addAction(action)
        self.containers_section = self.menu.addSection("Running containers")
        self._container_menus: list[QMenu] = []
        self._quit_separator = self.menu.addSeparator()
        self.menu.addAction("Quit Doca").triggered.connect(lambda: quit_app())
        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon()
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated(open_dashboard))
            self.icon.show()
        containers.add_listener(self._rebuild_containers)
        self._rebuild_containers()
        engine.on_status(self._engine_status)

    @property
    def available(self) -> bool:
        """Whether a real tray icon is shown (else closing the window should quit)."""
        return self.icon is not None

    def container_menu_titles(self) -> list[str]:
        return [menu.title() for menu in self._container_menus]

    def container_menu(self, name: str) -> QMenu | None:
        return next((m for m in self._container_menus if m.title() == name), None)

    def _rebuild_containers(self) -> None:
        for menu in self._container_menus:
            self.menu.removeAction(menu.menuAction())
            menu.deleteLater()
        self._container_menus = []
        running = [r for r in container_rows(self._containers.running())]
        for row in running:
            menu = QMenu(row.name, self.menu)
            menu.addAction("Stop").triggered.connect(
                lambda _=False, r=row: self._actions.run("stop", [r])
            )
            menu.addAction("Restart").triggered.connect(
                lambda _=False, r=row: self._actions.run("restart", [r])
            )
            menu.addAction("Logs").triggered.connect(
                lambda _=False, r=row: self._show_container(r.id)
            )
            self.menu.insertMenu(self._quit_separator, menu)
            self._container_menus.append(menu)
        self.containers_section.setText(
            "Running containers" if running else "No running containers"
        )

    def _engine_status(self, status: EngineStatus) -> None:
        self.state_action.setText(status.summary())
        if self.icon is not None:
            self.icon.setIcon(state_icon(status.state))
            self.icon.setToolTip(f"Doca — {status.summary()}")

    @staticmethod
    def _activated(open_dashboard: Callable[[], None]) -> Callable[[object], None]:
        def activated(reason: object) -> None:
            if reason == QSystemTrayIcon.ActivationReason.Trigger:
                open_dashboard()

        return activated

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
