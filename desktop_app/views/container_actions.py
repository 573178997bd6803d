"""``ContainerActions``: the container verbs the panel toolbar and the tray menu share. Each verb
runs as a task; failures show the engine's message."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from desktop_app.state.rows import ContainerRow
from desktop_app.tasks import TaskOwner
from desktop_app.views.prompts import ErrorReporter, Prompts
from doca.client import EngineClient

VERBS = ("start", "stop", "restart", "pause", "unpause", "kill", "remove")


class ContainerActions:
    def __init__(
        self, client: EngineClient, tasks: TaskOwner, prompts: Prompts, report: ErrorReporter
    ) -> None:
        self._client = client
        self._tasks = tasks
        self._prompts = prompts
        self._report = report

    def run(self, verb: str, rows: Sequence[ContainerRow]) -> asyncio.Task[None] | None:
        """Apply ``verb`` to ``rows``; ``remove`` asks first. The task, or None if declined."""
        if verb not in VERBS:
            raise ValueError(f"unknown container action {verb!r}")
        if not rows:
            return None
        if verb == "remove" and not self._confirm_remove(rows):
            return None
        return self._tasks.spawn(
            self._apply(verb, list(rows)),
            name=f"container-{verb}",
            on_error=self._report.handler(f"Could not {verb} the container"),
        )

    def _confirm_remove(self, rows: Sequence[ContainerRow]) -> bool:
        names = ", ".join(r.name for r in rows)
        running = [r for r in rows if r.state in ("running", "paused", "restarting")]
        text = f"Remove {names}?"
        if running:
            text += " Running containers are killed first."
        return self._prompts.confirm("Remove containers", text)

    async def _apply(self, verb: str, rows: list[ContainerRow]) -> None:
        # One after the other, as `docker stop a b c` does; the first error stops the batch.
        api = self._client.containers
        for row in rows:
            if verb == "start":
                await api.start(row.id)
            elif verb == "stop":
                await api.stop(row.id)
            elif verb == "restart":
                await api.restart(row.id)
            elif verb == "pause":
                await api.pause(row.id)
            elif verb == "unpause":
                await api.unpause(row.id)
            elif verb == "kill":
                await api.kill(row.id)
            else:
                await api.remove(row.id, force=row.state != "exited" and row.state != "created")
