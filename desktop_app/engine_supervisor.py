"""``EngineSupervisor``: connects to a running engine, or starts one and keeps it up.

Qt-free. One supervising task per engine; listeners get an ``EngineStatus`` on every change. The
app only ever signals the process it started itself, by its PID. Every mode is one process to
the supervisor: ``doca-engine`` as root (native), ``doca-engine --rootless`` as the app's user,
or the VM service (which powers its VM off on SIGTERM and exits when QEMU does). The launch is
planned afresh at each start, so a mode chosen in Settings applies at the next engine start.
Starting the engine as another user (pkexec/sudo prompt, a system service) is future work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from desktop_app.engine_status import (
    EngineLaunch,
    EngineState,
    EngineStatus,
    LaunchError,
    ProcessSampler,
    find_listener_pid,
)
from desktop_app.tasks import TaskOwner
from doca.client import EngineClient

log = logging.getLogger(__name__)

Listener = Callable[[EngineStatus], None]
PingFn = Callable[[], Awaitable[bool]]
#: Plans how to start the engine; blocking (it may read the settings), so it runs in a thread.
#: Raises ``LaunchError`` when the engine cannot be started as things stand.
Planner = Callable[[], EngineLaunch]
#: How often a starting engine is pinged: the resolution of the measured start time.
READY_POLL = 0.05


class SupervisorError(Exception):
    """A request the supervisor cannot honour (e.g. stopping an engine it did not start)."""


class EngineSupervisor:
    """Supervises the engine at ``host``; ``argv`` (a fixed command) or ``launch`` (planned at
    each start) says how to start one, neither that the app only connects."""

    def __init__(
        self,
        host: str,
        argv: Sequence[str] | None,
        *,
        launch: Planner | None = None,
        mode: str = "",
        no_start_reason: str = "starting the engine is disabled",
        start_timeout: float = 30.0,
        stop_timeout: float = 20.0,
        backoff: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0),
        max_restarts: int = 5,
        stable_after: float = 60.0,
        health_interval: float = 5.0,
        sample_interval: float = 2.0,
        ping: PingFn | None = None,
    ) -> None:
        self.host = host
        if argv is not None:
            fixed = EngineLaunch(mode, tuple(argv))
            launch = lambda: fixed  # noqa: E731
        self._plan = launch
        self._no_start_reason = no_start_reason
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._backoff = tuple(backoff)
        self._max_restarts = max_restarts
        self._stable_after = stable_after
        self._health_interval = health_interval
        self._sample_interval = sample_interval
        self._client = EngineClient(host) if ping is None else None
        self._ping_fn: PingFn = ping or self._client.ping  # type: ignore[union-attr]
        self._tasks = TaskOwner("engine-supervisor")
        self._supervising: asyncio.Task[None] | None = None
        self._sampling: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._launch: EngineLaunch | None = None  # the one running, or last run
        self._stop_requested = False
        self._log: deque[str] = deque(maxlen=200)
        self._listeners: list[Listener] = []
        self.status = EngineStatus(mode=mode)

    # --- observing -------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every new status; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def can_start(self) -> bool:
        return self._plan is not None

    @property
    def owns_engine(self) -> bool:
        """Whether the engine process is one the app started (and so may stop)."""
        return self._proc is not None and self._proc.returncode is None

    def log_tail(self, lines: int = 50) -> list[str]:
        return list(self._log)[-lines:]

    async def wait_for(self, *states: EngineState, timeout: float = 30.0) -> EngineStatus:
        """Wait until the status is in one of ``states``."""
        reached = asyncio.Event()
        remove = self.add_listener(lambda s: reached.set() if s.state in states else None)
        try:
            if self.status.state not in states:
                async with asyncio.timeout(timeout):
                    await reached.wait()
            return self.status
        finally:
            remove()

    def _set(self, **changes: Any) -> None:
        if changes.get("state") in (EngineState.ERROR, EngineState.STOPPED):
            changes.setdefault("log_lines", tuple(self.log_tail(20)))
        self.status = replace(self.status, **changes)
        for listener in list(self._listeners):
            try:
                listener(self.status)
            except Exception:
                log.exception("engine status listener failed")

    # --- commands --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the engine at ``host``, or start one; returns at once. In the error state
        (waiting to restart, or for an engine to appear) it tries again now."""
        if self._supervising is not None and not self._supervising.done():
            if self.status.state is not EngineState.ERROR:
                return
            self._supervising.cancel()  # it is only sleeping: no process of ours is running
        self._stop_requested = False
        self._supervising = self._tasks.spawn(self._supervise(), name="supervise")

    async def stop(self) -> None:
        """Stop the engine the app started: SIGTERM to its PID, SIGKILL after the timeout."""
        proc = self._proc
        not_ours = proc is None or proc.returncode is not None
        if not_ours and self.status.state is EngineState.RUNNING:
            raise SupervisorError(
                "this engine was not started by Doca Desktop; stop it where it was started"
            )
        self._stop_requested = True
        if proc is not None and proc.returncode is None:
            self._set(state=EngineState.STOPPING, reason="")
            await self._terminate(proc, self._stop_timeout_of(self._launch))
        await self._end_supervision()
        self._set(
            state=EngineState.STOPPED,
            reason="",
            owned=False,
            pid=None,
            cpu_percent=None,
            memory_rss=None,
            start_seconds=None,
        )

    async def restart(self) -> None:
        if self.owns_engine:
            await self.stop()
        self.start()

    async def aclose(self) -> None:
        """Stop supervising; an engine the app started is stopped too."""
        if self.owns_engine:
            await self.stop()
        await self._tasks.aclose()
        if self._client is not None:
            await self._client.close()

    async def _end_supervision(self) -> None:
        tasks = [t for t in (self._supervising, self._sampling) if t is not None]
        self._supervising = self._sampling = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # --- supervising -----------------------------------------------------------------------

    async def _ping(self) -> bool:
        try:
            async with asyncio.timeout(2.0):  # not wait_for: it can swallow a cancel on 3.11
                return await self._ping_fn()
        except TimeoutError:
            return False

    async def _supervise(self) -> None:
        if await self._ping():
            await self._watch_external()
            return
        if self._plan is None:
            launch: EngineLaunch | LaunchError = LaunchError(self._no_start_reason)
        else:
            try:
                launch = await asyncio.get_running_loop().run_in_executor(None, self._plan)
            except LaunchError as exc:
                launch = exc
        if isinstance(launch, LaunchError):
            reason = f"no engine answers at {self.host}; {launch}"
            self._set(state=EngineState.ERROR, reason=reason, mode=launch.mode or self.status.mode)
            await self._watch_external()
        else:
            await self._run_managed(launch)

    async def _watch_external(self) -> None:
        """Health-check an engine the app did not start; it may come and go."""
        while True:
            answers = await self._ping()
            if answers and self.status.state is not EngineState.RUNNING:
                pid = await asyncio.get_running_loop().run_in_executor(
                    None, find_listener_pid, self.host
                )
                self._set(state=EngineState.RUNNING, reason="", owned=False, pid=pid)
                self._begin_sampling(pid)
            elif not answers and self.status.state is EngineState.RUNNING:
                self._end_sampling()
                reason = f"the engine at {self.host} stopped answering"
                self._set(state=EngineState.ERROR, reason=reason, pid=None)
            await asyncio.sleep(self._health_interval)

    async def _run_managed(self, launch: EngineLaunch) -> None:
        """Start the engine, and start it again with back-off each time it exits."""
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stop_requested:
            started = loop.time()
            what = await self._run_once(launch)
            if self._stop_requested:
                return
            failures = 1 if loop.time() - started >= self._stable_after else failures + 1
            if failures > self._max_restarts:
                gave_up = f"{what}; gave up after {self._max_restarts} restarts"
                self._set(state=EngineState.ERROR, reason=gave_up, owned=False, pid=None)
                return
            delay = self._backoff[min(failures, len(self._backoff)) - 1]
            retry = f"{what}; restarting in {delay:g} s"
            self._set(state=EngineState.ERROR, reason=retry, owned=False, pid=None)
            await asyncio.sleep(delay)

    async def _run_once(self, launch: EngineLaunch) -> str:
        """Run one engine process until it exits; says how it ended."""
        self._launch = launch
        self._set(
            state=EngineState.STARTING, reason="", owned=True, mode=launch.mode, start_seconds=None
        )
        loop = asyncio.get_running_loop()
        if launch.prepare is not None:
            try:
                # The deque's append is thread-safe: the preparing thread logs straight into it.
                await loop.run_in_executor(None, launch.prepare, self._log.append)
            except Exception as exc:
                log.warning("preparing the engine failed", exc_info=True)
                return f"cannot start the engine: {exc}"
        argv = launch.argv
        start_timeout = launch.start_timeout or self._start_timeout
        launched = loop.time()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the app's terminal is not the engine's
            )
        except OSError as exc:
            return f"cannot start {argv[0]}: {exc}"
        self._proc = proc
        reader = self._tasks.spawn(self._read_log(proc), name="engine-log")
        try:
            if await self._wait_ready(proc, start_timeout):
                seconds = loop.time() - launched
                log.info("the %s engine answered %.2f s after launch", launch.mode, seconds)
                self._set(state=EngineState.RUNNING, reason="", owned=True, pid=proc.pid,
                          start_seconds=seconds)  # fmt: skip
                self._begin_sampling(proc.pid, launch.sample_tree)
            elif proc.returncode is None:
                await self._terminate(proc, self._stop_timeout_of(launch))
                return f"the engine did not answer within {start_timeout:g} s"
            return f"the engine exited with code {await proc.wait()}"
        finally:
            self._end_sampling()
            # Containers' monitors may hold the engine's stdout open: do not wait for EOF long.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(reader), 0.5)
            reader.cancel()

    async def _wait_ready(self, proc: asyncio.subprocess.Process, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if proc.returncode is not None:
                return False
            if await self._ping():
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), READY_POLL)
        return False

    async def _read_log(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            self._log.append(line.decode(errors="replace").rstrip("\n"))

    def _stop_timeout_of(self, launch: EngineLaunch | None) -> float:
        return (launch.stop_timeout if launch is not None else None) or self._stop_timeout

    async def _terminate(self, proc: asyncio.subprocess.Process, timeout: float) -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    # --- resources -------------------------------------------------------------------------

    def _begin_sampling(self, pid: int | None, tree: bool = False) -> None:
        self._end_sampling()
        if pid is not None:
            self._sampling = self._tasks.spawn(self._sample(pid, tree), name="sample")

    def _end_sampling(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None
        if self.status.cpu_percent is not None or self.status.memory_rss is not None:
            self._set(cpu_percent=None, memory_rss=None)

    async def _sample(self, pid: int, tree: bool) -> None:
        loop = asyncio.get_running_loop()
        sampler = await loop.run_in_executor(None, ProcessSampler, pid, tree)
        while True:
            await asyncio.sleep(self._sample_interval)
            sample = await loop.run_in_executor(None, sampler.sample)
            if sample is None:
                return
            self._set(cpu_percent=sample[0], memory_rss=sample[1])
