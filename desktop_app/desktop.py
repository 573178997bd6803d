"""``DesktopApp``: the supervisor, the session, the window and the tray, put together, started
and closed as one. ``main.py`` builds one from the command line; tests build one directly.

Closing the window only hides it while a tray icon can bring it back; the app ends with Quit
(in the tray, or closing the window where there is no tray)."""

from __future__ import annotations

import asyncio
from typing import Any

from shiboken6 import isValid

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.container_alerts import ContainerAlerts
from desktop_app.state.notification_settings import NotificationSettings, default_path
from desktop_app.state.session import EngineSession
from desktop_app.tasks import TaskOwner
from desktop_app.tray import Tray
from desktop_app.views.container_actions import ContainerActions
from desktop_app.views.engine_controls import EngineControls
from desktop_app.views.main_window import MainWindow
from desktop_app.views.prompts import ErrorReporter, Prompts, QtPrompts
from doca.client import EngineClient


class DesktopApp:
    def __init__(
        self,
        supervisor: EngineSupervisor,
        prompts: Prompts | None = None,
        client: EngineClient | None = None,
        notifications: NotificationSettings | None = None,
        local_host: str | None = None,
    ) -> None:
        self.supervisor = supervisor
        #: The engine to switch to once this app has closed (see ``switch_engine``).
        self.switch_to: str | None = None
        self.session = EngineSession(client or EngineClient(supervisor.host))
        self.tasks = TaskOwner("desktop")
        self.prompts: Prompts = prompts or QtPrompts()
        self.report = ErrorReporter(self.prompts)
        self.quit_requested = asyncio.Event()
        self.engine = EngineControls(supervisor, self.tasks, self.report)
        self.container_actions = ContainerActions(
            self.session.client, self.tasks, self.prompts, self.report
        )
        self.window = MainWindow(
            self.session,
            self.engine,
            self.container_actions,
            self.tasks,
            self.prompts,
            self.report,
        )
        if isinstance(self.prompts, QtPrompts) and self.prompts.parent is None:
            self.prompts.parent = self.window
        if notifications is None:
            notifications = NotificationSettings.load(default_path())
        self.notifications = notifications
        notifications.add_listener(self._save_notifications)
        self.alerts = ContainerAlerts(notifications)
        self._pending_logs: str | None = None  # see show_logs
        self.tray = Tray(
            self.engine, self.session.containers, self.container_actions, notifications
        )
        self.tray.dashboard_requested.connect(self.window.show_dashboard)
        self.tray.logs_requested.connect(self.show_logs)
        self.tray.quit_requested.connect(self.quit_requested.set)
        self.session.containers.add_listener(self._containers_changed)
        self.session.pump.subscribe(self._event)
        # Without a tray icon a hidden window could not be brought back: closing it quits.
        self.window.hide_on_close = self.tray.available
        self.window.on_close = self.quit_requested.set
        self.window.local_host = local_host or supervisor.host
        self.window.on_switch_engine = self.switch_engine
        supervisor.add_listener(self._engine_status)

    def start(self) -> None:
        """Start (or connect to) the engine and follow it; returns at once."""
        self.supervisor.start()
        self.session.start()

    def show(self) -> None:
        self.window.show_dashboard()

    async def run_until_quit(self) -> None:
        """Wait for Quit (tray or window), then close everything."""
        await self.quit_requested.wait()
        await self.aclose()

    def switch_engine(self, host: str) -> None:
        """Close this app so that its runner starts it again on ``host``: every panel, the
        tray and the event stream then follow that engine."""
        self.switch_to = host
        self.quit_requested.set()

    def _engine_status(self, status: EngineStatus) -> None:
        if status.state is EngineState.RUNNING:
            self.session.engine_is_back()

    def show_logs(self, container_id: str) -> None:
        """The dashboard on a container and its logs. A message about a container can come
        before the list holds it: then it is selected as soon as the list does."""
        self.window.show_container(container_id)
        found = self.session.containers.find(container_id) is not None
        self._pending_logs = None if found else container_id

    def _containers_changed(self) -> None:
        pending = self._pending_logs
        if pending is not None and self.session.containers.find(pending) is not None:
            self._pending_logs = None
            self.window.show_container(pending)

    def _event(self, event: dict[str, Any]) -> None:
        notice = self.alerts.decide(event)
        if notice is not None:
            self.tray.show_notice(notice)

    def _save_notifications(self, _enabled: bool) -> None:
        self.tasks.spawn(
            asyncio.to_thread(self.notifications.save),
            name="save-notifications",
            on_error=self.report.handler("Could not save the notification setting"),
        )

    async def aclose(self) -> None:
        """Cancel all work and close the client. An engine the app started is stopped (its
        containers keep running under their monitors); one it found running is left alone."""
        # The window may be gone already (Qt deletes it with its parent, or a test harness
        # closed it first): closing must still cancel every task and close the client.
        if isValid(self.tray):
            self.tray.hide()
        if isValid(self.window):
            self.window.hide()
        await self.tasks.aclose()
        await self.window.containers.aclose()
        await self.session.aclose()
        await self.supervisor.aclose()
