"""``DesktopApp``: the supervisor, the session, the window and the tray, put together, started
and closed as one. ``main.py`` builds one from the command line; tests build one directly."""

from __future__ import annotations

import asyncio

from desktop_app.engine_status import EngineState, EngineStatus
from desktop_app.engine_supervisor import EngineSupervisor
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
    ) -> None:
        self.supervisor = supervisor
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
        self.tray = Tray(
            self.engine,
            self.session.containers,
            self.container_actions,
            open_dashboard=self.window.show_dashboard,
            show_container=self.window.show_container,
            quit_app=self.quit_requested.set,
        )
        # Without a tray icon a hidden window could not be brought back: closing it quits.
        self.window.hide_on_close = self.tray.available
        self.window.on_close = self.quit_requested.set
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

    def _engine_status(self, status: EngineStatus) -> None:
        if status.state is EngineState.RUNNING:
            self.session.engine_is_back()

    async def aclose(self) -> None:
        """Cancel all work and close the client. An engine the app started is stopped (its
        containers keep running under their monitors); one it found running is left alone."""
        self.tray.hide()
        self.window.hide()
        await self.tasks.aclose()
        await self.window.containers.aclose()
        await self.session.aclose()
        await self.supervisor.aclose()
