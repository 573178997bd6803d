"""``crun exec`` run as the engine's own child, without conmon: how an exec without a TTY runs.

A container needs conmon because it must outlive the engine; an exec's stdio is its client's
connection, which ends with the engine anyway, so the engine can be the parent of the runtime
that waits for the process. That saves conmon's start, double fork and handshake, which took
longer than ``crun exec`` itself. When the engine stops first, the process keeps running, as
dockerd's execs keep running in containerd's shim when dockerd stops with live-restore, and is
forgotten, as dockerd forgets its exec records; the runtime left behind still reaps it. Its
output pipes close with the engine: an attached process that writes after that gets EPIPE
(SIGPIPE), a detached one writes to /dev/null and runs on.

crun gets the process spec, its log and its pid file as ``/proc/self/fd/N`` paths, so nothing
touches the disk. The pid file is a pipe: crun writes it only once its child passed every check
that can fail (user, working directory, executable) and is about to exec, so its first bytes
say the process started, and crun exiting without writing it says it did not, with the reason
in the JSON log. crun's child also prints that reason on its stderr, which is the process's:
the engine reads the output pipes only after the start succeeded, so the client never sees it.
crun's exit status is the process's (128+N when signal N killed it).

runc writes its pid file by renaming a temporary file next to it, which ``/proc/self/fd``
cannot hold: with runc, execs keep going through conmon.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from engine.runtime.exec_pipes import ExecPipes
from engine.runtime.oci import OciRuntime, RuntimeFailure, runtime_message, start_exit_code

#: How long the runtime may take to start the process.
DEFAULT_TIMEOUT = 120.0


def can_pipe_exec(runtime: OciRuntime) -> bool:
    """Whether ``runtime`` can run an exec this way (see the module's docstring)."""
    return runtime.name == "crun"


def piped_exec_argv(
    runtime: OciRuntime, container_id: str, *, process_fd: int, pid_fd: int, log_fd: int
) -> list[str]:
    """The runtime's command line for an exec whose spec, pid file and log are inherited
    descriptors (pure)."""
    return runtime.argv(
        f"--log=/proc/self/fd/{log_fd}",
        "exec",
        f"--pid-file=/proc/self/fd/{pid_fd}",
        "--process",
        f"/proc/self/fd/{process_fd}",
        container_id,
    )


def _memfd(name: str, content: bytes) -> int:
    fd = os.memfd_create(name)
    os.write(fd, content)
    return fd


def _close(fds: Sequence[int | None]) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


class PipedExec:
    """A started exec: ``pid`` is its process, ``stdio`` its pipes (None when detached)."""

    def __init__(self, exited: asyncio.Future[int]) -> None:
        self._exited = exited
        self.pid = 0
        self.stdio: ExecPipes | None = None
        self._pidfd: int | None = None  # the process's, so a kill never hits a reused pid

    async def wait(self) -> int:
        """The process's exit code (128+N when killed by signal N)."""
        return await asyncio.shield(self._exited)

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self._pidfd is not None and not self._exited.done():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def close(self) -> None:
        if self.stdio is not None:
            self.stdio.close()
        _close([self._pidfd])
        self._pidfd = None

    def _started(self, pid: int, stdio: ExecPipes | None) -> None:
        self.pid = pid
        self.stdio = stdio
        with contextlib.suppress(OSError):  # already gone: nothing left to kill
            self._pidfd = os.pidfd_open(pid)
        if stdio is not None:
            self._exited.add_done_callback(lambda _: stdio.process_exited())


def _spawn(argv: list[str], stdio: Sequence[int | None], inherited: Sequence[int]) -> int:
    """Start the runtime in a session of its own (a Ctrl-C meant for a foreground engine must
    not kill it) with ``stdio`` as its fds 0-2 (None: /dev/null) and ``inherited`` kept open.

    posix_spawn rather than subprocess: no fd-closing pass and no Python in the child, and the
    engine's descriptors are close-on-exec anyway (PEP 446) but for ``inherited``.
    """
    actions: list[tuple[int, int, int] | tuple[int, int, str, int, int]] = []
    for target, fd in enumerate(stdio):
        if fd is None:
            flags = os.O_RDONLY if target == 0 else os.O_WRONLY
            actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, flags, 0))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    for fd in inherited:
        os.set_inheritable(fd, True)
    try:
        return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    finally:
        for fd in inherited:
            os.set_inheritable(fd, False)


def _watch_exit(pid: int) -> asyncio.Future[int]:
    """A future for our child ``pid``'s exit status, from its pidfd (no thread, no polling);
    128+N when signal N killed it."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()
    pidfd = os.pidfd_open(pid)

    def readable() -> None:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = pid, 255 << 8
        if reaped == 0:
            return
        loop.remove_reader(pidfd)
        os.close(pidfd)
        code = os.waitstatus_to_exitcode(status)
        if not exited.done():
            exited.set_result(128 - code if code < 0 else code)

    loop.add_reader(pidfd, readable)
    return exited


async def _first_pid(fd: int) -> int | None:
    """The pid crun writes into the pid-file pipe; None at EOF (crun exited without one)."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not got.done():
            got.set_result(data)

    loop.add_reader(fd, readable)
    try:
        data = await got
    finally:
        loop.remove_reader(fd)
    text = data.strip()
    return int(text) if text.isdigit() else None


async def _started_pid(exited: asyncio.Future[int], pid_r: int, log_fd: int) -> int:
    """The process's pid once crun reports it; crun's own words if it exits first."""
    pid = await _first_pid(pid_r)
    if pid is not None:
        return pid
    code = await exited
    log = os.pread(log_fd, 1 << 16, 0).decode(errors="replace")
    message = runtime_message(log) if log.strip() else f"exec failed with status {code}"
    raise RuntimeFailure(message, exit_code=start_exit_code(message))


async def start_piped_exec(
    runtime: OciRuntime,
    container_id: str,
    process: bytes,
    *,
    stdin: bool,
    attach: bool,
    timeout: float = DEFAULT_TIMEOUT,
) -> PipedExec:
    """Run ``process`` (an OCI process, JSON) in the container; return once it runs.

    ``attach`` gives it pipes for stdout and stderr (else /dev/null), ``stdin`` one for stdin
    (with ``attach`` only). A process that cannot start raises the runtime's words, with the
    exit code dockerd would record (127, 126) when they tell one.
    """
    stdin = stdin and attach
    process_fd = _memfd("doca-exec-process", process)
    log_fd = _memfd("doca-exec-log", b"")
    pid_r, pid_w = os.pipe()
    stdin_r, stdin_w = os.pipe() if stdin else (None, None)
    out_r, out_w = os.pipe() if attach else (None, None)
    err_r, err_w = os.pipe() if attach else (None, None)
    argv = piped_exec_argv(
        runtime, container_id, process_fd=process_fd, pid_fd=pid_w, log_fd=log_fd
    )
    runtime_pid = 0
    exited: asyncio.Future[int] | None = None
    try:
        try:
            runtime_pid = _spawn(argv, (stdin_r, out_w, err_w), (process_fd, pid_w, log_fd))
        except OSError as exc:
            raise RuntimeFailure(f"cannot run {runtime.path}: {exc}") from exc
        finally:
            # Only the runtime may hold these, or EOF never comes.
            _close([process_fd, pid_w, stdin_r, out_w, err_w])
        exited = _watch_exit(runtime_pid)
        try:
            async with asyncio.timeout(timeout):
                pid = await _started_pid(exited, pid_r, log_fd)
        except TimeoutError:
            raise RuntimeFailure(f"{runtime.name} did not start the exec in time") from None
    except BaseException:
        if exited is not None and not exited.done():
            os.kill(runtime_pid, signal.SIGKILL)  # not reaped yet: the pid is still its own
        _close([stdin_w, out_r, err_r])
        raise
    finally:
        _close([pid_r, log_fd])
    session = PipedExec(exited)
    stdio = None
    if out_r is not None and err_r is not None:
        stdio = ExecPipes(stdin_w, out_r, err_r)
    session._started(pid, stdio)
    return session
