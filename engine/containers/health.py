"""Health checks: the image's or container's HEALTHCHECK run on schedule inside the container,
feeding ``State.Health`` and ``health_status`` events as dockerd does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from engine.containers.exec import ExecService
from engine.containers.model import ContainerRecord
from engine.errors import EngineError
from engine.runtime.attach import AttachConnection
from engine.timefmt import rfc3339_nano

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


def probe_command(test: list[str]) -> list[str] | None:
    """The command a Healthcheck.Test runs, or None when checks are disabled."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return test  # a bare command, as old clients send it


def _seconds(value: Any, default: int) -> float:
    return (value if isinstance(value, int) and value > 0 else default) / SECOND


class HealthMonitor:
    def __init__(self, execs: ExecService) -> None:
        self.execs = execs
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, record: ContainerRecord) -> None:
        check = record.config.get("Healthcheck") or {}
        command = probe_command(check.get("Test") or [])
        self.stop(record.id)
        if command is None:
            record.state.health = None
            return
        record.state.health = {"Status": STARTING, "FailingStreak": 0, "Log": []}
        task = asyncio.create_task(self._run(record, command, check), name=f"health-{record.id}")
        self._tasks[record.id] = task

    def stop(self, container_id: str) -> None:
        task = self._tasks.pop(container_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, record: ContainerRecord, command: list[str], check: dict) -> None:
        interval = _seconds(check.get("Interval"), DEFAULT_INTERVAL)
        timeout = _seconds(check.get("Timeout"), DEFAULT_TIMEOUT)
        start_period = _seconds(check.get("StartPeriod"), 0)
        start_interval = _seconds(check.get("StartInterval"), int(interval * SECOND))
        retries = check.get("Retries") if isinstance(check.get("Retries"), int) else 0
        retries = retries or DEFAULT_RETRIES
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            in_start_period = loop.time() - started < start_period
            health = record.state.health or {}
            waiting = in_start_period and health.get("Status") == STARTING
            await asyncio.sleep(start_interval if waiting else interval)
            code, output, begun = await self._probe(record, command, timeout)
            self._record(record, code, output, begun, retries, loop.time() - started < start_period)

    async def _probe(
        self, record: ContainerRecord, command: list[str], timeout: float
    ) -> tuple[int, str, str]:
        begun = rfc3339_nano()
        chunks: list[bytes] = []

        async def collect(conn: AttachConnection) -> None:
            async for frame in conn:
                if sum(map(len, chunks)) < MAX_OUTPUT:
                    chunks.append(frame.data)

        body = {"Cmd": command, "AttachStdout": True, "AttachStderr": True}
        try:
            exec_record = self.execs.create(record, body)
            started = self.execs.start(exec_record.id, detach=False, on_attach=collect)
            finished = await asyncio.wait_for(started, timeout)
            code = finished.exit_code if finished.exit_code is not None else -1
        except TimeoutError:
            return -1, f"Health check exceeded timeout ({timeout:g}s)", begun
        except EngineError as exc:
            return -1, exc.message, begun
        return code, b"".join(chunks).decode(errors="replace")[:MAX_OUTPUT], begun

    def _record(
        self,
        record: ContainerRecord,
        code: int,
        output: str,
        begun: str,
        retries: int,
        in_start_period: bool,
    ) -> None:
        health = record.state.health
        if health is None:
            return
        entries = [*health.get("Log", []), {
            "Start": begun, "End": rfc3339_nano(), "ExitCode": code, "Output": output,
        }][-MAX_LOG_ENTRIES:]  # fmt: skip
        health["Log"] = entries
        previous = health.get("Status")
        if code == 0:
            health["Status"] = HEALTHY
            health["FailingStreak"] = 0
        elif not in_start_period or previous != STARTING:
            health["FailingStreak"] = health.get("FailingStreak", 0) + 1
            if health["FailingStreak"] >= retries:
                health["Status"] = UNHEALTHY
        with contextlib.suppress(OSError):
            self.execs.lifecycle.store.save_state(record)
        if health["Status"] != previous:
            lifecycle = self.execs.lifecycle
            lifecycle.events.publish(
                "container",
                f"health_status: {health['Status']}",
                record.id,
                lifecycle.attributes(record),
            )
