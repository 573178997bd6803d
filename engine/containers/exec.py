"""``docker exec``: processes started in a running container, exit code recorded before the
client's stream closes. An exec without a TTY runs ``crun exec`` as the engine's child with pipes
for its stdio (``engine.runtime.piped_exec``); a TTY exec runs under conmon, which owns the
terminal, in an exec session directory of its own."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.containers.exec_process import (
    ConsoleSize,
    check_exec_types,
    decode_console_size,
    exec_environment,
    exec_process,
)
from engine.containers.lifecycle import Lifecycle, start_error_text
from engine.containers.model import ContainerRecord
from engine.containers.state import check
from engine.containers.user import resolve_user
from engine.errors import EngineError, InvalidParameter, NotFound
from engine.runtime.attach import AttachConnection, resize
from engine.runtime.conmon import ConmonOptions, ExecSession, start_exec
from engine.runtime.oci import RuntimeFailure
from engine.runtime.piped_exec import PipedExec, can_pipe_exec, start_piped_exec

OnAttach = Callable[[AttachConnection], Awaitable[None]]

#: The exit code dockerd records for an exec that failed before its process ran (EACCES).
EXIT_NOT_STARTED = 126


@dataclass
class ExecRecord:
    id: str
    container_id: str
    config: dict[str, Any]
    user: str = ""  # the exec's User, else the container's (dockerd fills it in at create)
    console_size: ConsoleSize | None = None  # ExecCreate's ConsoleSize; ExecStart's wins
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    started: bool = False
    directory: Path = field(default_factory=Path)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def inspect(self) -> dict[str, Any]:
        config = self.config
        command = config.get("Cmd") or []
        process: dict[str, Any] = {
            "tty": bool(config.get("Tty")),
            "entrypoint": command[0] if command else "",
            "arguments": command[1:],
            "privileged": bool(config.get("Privileged")),
        }
        if self.user:
            process["user"] = self.user
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": process,
            "OpenStdin": bool(config.get("AttachStdin")),
            "OpenStderr": bool(config.get("AttachStderr")),
            "OpenStdout": bool(config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": config.get("DetachKeys") or "",
            "Pid": self.pid,
        }


class ExecService:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._execs: dict[str, ExecRecord] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, exec_id: str) -> ExecRecord:
        record = self._execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    def ids_of(self, container_id: str) -> list[str]:
        return [e.id for e in self._execs.values() if e.container_id == container_id]

    def running_ids(self, container_id: str) -> list[str]:
        """The container's execs whose process runs: inspect's ExecIDs."""
        return [e.id for e in self._execs.values()
                if e.container_id == container_id and e.running]  # fmt: skip

    def forget_container(self, container_id: str) -> None:
        for exec_id in self.ids_of(container_id):
            del self._execs[exec_id]

    def create(
        self, container: ContainerRecord, body: Any, *, with_console_size: bool = True
    ) -> ExecRecord:
        """Register an exec; ``with_console_size`` is False for API versions before 1.42,
        where dockerd decodes ConsoleSize and then drops it."""
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: the request body must be an object")
        check_exec_types(body)
        console_size = decode_console_size(body.get("ConsoleSize"), "ExecOptions")
        command = body.get("Cmd")
        if (
            not command
            or not isinstance(command, list)
            or not all(isinstance(c, str) for c in command)
        ):
            raise InvalidParameter("No exec command specified")
        check(container.state.status, "exec", container.bare_name)
        if body.get("User"):
            # As dockerd 25+: a user the container does not know fails the create, not the start.
            resolve_user(self.lifecycle.paths(container).rootfs, body["User"])
        exec_id = secrets.token_hex(32)
        record = ExecRecord(
            exec_id,
            container.id,
            dict(body),
            user=body.get("User") or container.config.get("User") or "",
            console_size=console_size if with_console_size else None,
        )
        self._execs[exec_id] = record
        self.lifecycle.events.publish(
            "container",
            f"exec_create: {' '.join(command)}",
            container.id,
            {**self.lifecycle.attributes(container), "execID": exec_id},
        )
        return record

    def _process_spec(
        self, container: ContainerRecord, record: ExecRecord, console_size: ConsoleSize | None
    ) -> dict[str, Any]:
        paths = self.lifecycle.paths(container)
        spec = orjson.loads((paths.bundle / "config.json").read_bytes())
        config = record.config
        user = resolve_user(
            paths.rootfs, record.user, list(container.host_config.get("GroupAdd") or [])
        )
        hostname = container.config.get("Hostname") or container.short_id
        env = exec_environment(
            container.config, hostname, list(config.get("Env") or []), bool(config.get("Tty"))
        )
        return exec_process(spec["process"], config, env, user, console_size)

    async def start(
        self,
        exec_id: str,
        detach: bool,
        on_attach: OnAttach | None,
        console_size: ConsoleSize | None = None,
    ) -> ExecRecord:
        """Start the process; unless detached, ``on_attach`` pumps its I/O and the exit code
        is recorded before this returns. ``console_size`` (ExecStart's) overrides the one
        given at create; either sizes a TTY exec's terminal as it starts."""
        record = self.get(exec_id)
        if record.started:
            raise InvalidParameter(f"Error: Exec command {exec_id} has already run")
        container = self.lifecycle.store.get(record.container_id)
        check(container.state.status, "exec", container.bare_name)
        record.started = True
        size = console_size if console_size is not None else record.console_size
        try:
            process = self._process_spec(container, record, size)
        except EngineError:
            record.exit_code = EXIT_NOT_STARTED
            record.done.set()
            raise
        attached = not detach and on_attach is not None
        try:
            session, connection = await self._launch(container, record, process, attached)
        except RuntimeFailure as exc:
            record.exit_code = exc.exit_code or EXIT_NOT_STARTED
            record.done.set()
            raise RuntimeFailure(
                f"OCI runtime exec failed: exec failed: {start_error_text(exc.message)}",
                exit_code=exc.exit_code,
            ) from exc
        record.running = True
        record.pid = session.pid
        self.lifecycle.events.publish(
            "container",
            f"exec_start: {' '.join(record.config['Cmd'])}",
            container.id,
            {**self.lifecycle.attributes(container), "execID": exec_id},
        )
        if attached and on_attach is not None and connection is not None:
            try:
                await on_attach(connection)
            except BaseException as exc:
                # As dockerd when the caller gives up (a health check's timeout): the process
                # is killed. Its end is recorded all the same.
                if isinstance(exc, asyncio.CancelledError) and isinstance(session, PipedExec):
                    session.kill()
                self._own(self._finish(container, record, session))
                raise
            finally:
                connection.close()
            await self._finish(container, record, session)
        else:
            self._own(self._finish(container, record, session))
        return record

    def _own(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _launch(
        self,
        container: ContainerRecord,
        record: ExecRecord,
        process: dict[str, Any],
        attached: bool,
    ) -> tuple[ExecSession | PipedExec, AttachConnection | None]:
        """A TTY exec (or any, with runc) runs under conmon, which owns the terminal; any
        other as the engine's own child, its stdio pipes."""
        runtime = self.lifecycle.setup.runtime
        if record.config.get("Tty") or not can_pipe_exec(runtime):
            return await self._start_conmon(container, record, process, attached)
        session = await start_piped_exec(
            runtime,
            container.id,
            orjson.dumps(process),
            stdin=bool(record.config.get("AttachStdin")),
            attach=attached,
        )
        return session, session.stdio

    async def _start_conmon(
        self,
        container: ContainerRecord,
        record: ExecRecord,
        process: dict[str, Any],
        attached: bool,
    ) -> tuple[ExecSession, AttachConnection | None]:
        record.directory = self.lifecycle.paths(container).run / "exec" / record.id
        record.directory.mkdir(parents=True, exist_ok=True)
        spec_path = record.directory / "process.json"
        spec_path.write_bytes(orjson.dumps(process))
        options = self._options(container, record, spec_path, attached)
        connection: AttachConnection | None = None

        async def connect() -> None:
            nonlocal connection
            connection = await AttachConnection.connect(record.directory / "attach")

        try:
            session = await start_exec(options, on_attach_ready=connect if attached else None)
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return session, connection

    def _options(
        self, container: ContainerRecord, record: ExecRecord, spec: Path, attached: bool
    ) -> ConmonOptions:
        runtime = self.lifecycle.setup.runtime
        directory = record.directory
        return ConmonOptions(
            container_id=container.id,
            session_id=record.id,
            runtime_path=runtime.path,
            runtime_args=tuple(runtime.conmon_runtime_args()),
            bundle=directory,
            pidfile=directory / "pid",
            conmon_pidfile=directory / "conmon.pid",
            exit_dir=directory,
            persist_dir=directory,
            oci_log=directory / "oci-log",
            terminal=bool(record.config.get("Tty")),
            stdin=bool(record.config.get("AttachStdin")) and attached,
            exec_process_spec=spec,
            exec_attach=attached,
        )

    async def _finish(
        self, container: ContainerRecord, record: ExecRecord, session: ExecSession | PipedExec
    ) -> None:
        try:
            code = await session.wait()
        except RuntimeFailure:
            code = 126
        finally:
            session.close()
        record.exit_code = code
        record.running = False
        record.done.set()
        self.lifecycle.events.publish(
            "container",
            "exec_die",
            container.id,
            {**self.lifecycle.attributes(container), "execID": record.id, "exitCode": str(code)},
        )
        if record.directory.parts:  # conmon's session directory
            with contextlib.suppress(OSError):
                shutil.rmtree(record.directory)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        record = self.get(exec_id)
        if not record.running:
            raise InvalidParameter(f"exec {exec_id} is not running")
        if record.config.get("Tty"):  # without a terminal there is nothing to size (containerd)
            resize(record.directory / "ctl", height, width)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
