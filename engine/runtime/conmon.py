"""conmon: the per-container monitor that keeps logs, stdio and the exit code while we are away.

``conmon_argv`` is pure; ``create_container`` and ``start_exec`` run conmon and do its start-up
handshake as podman does (libpod/oci_conmon_common.go; conmon 2.1.6 main()). conmon inherits
SOCK_SEQPACKET socketpair ends named by ``_OCI_SYNCPIPE``/``_OCI_STARTPIPE`` (``_OCI_ATTACHPIPE``
for an attached exec; packets keep an exec's two start messages apart). It blocks on the start
pipe, then forks and its first process exits: we reap it, and the daemonized conmon, re-parented
to init and in a session of its own, outlives the engine and any signal to the engine's process
group. It reports ``{"data": <pid>}`` (or ``-1`` and a message) on the sync pipe; an exec's
exit code follows as a second message. The runtime's error text comes from its JSON ``--log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from engine.runtime.oci import RuntimeFailure, runtime_message, start_exit_code

CONMON_PATH = "/usr/bin/conmon"
#: How long conmon may take to report a PID (podman allows minutes; slow disks exist).
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class ConmonOptions:
    """Everything one conmon invocation needs; an exec is a run with ``exec_process_spec``.

    conmon puts the ``attach`` socket and the ``ctl``/``winsz`` FIFOs in ``bundle`` (we pass
    ``--full-attach``), the exit file ``<exit_dir>/<container_id>`` and ``<persist_dir>/exit``.
    For an exec, ``bundle`` and ``exit_dir`` must be the exec session's own directories.
    """

    container_id: str
    runtime_path: str
    bundle: Path
    pidfile: Path
    exit_dir: Path
    persist_dir: Path
    oci_log: Path
    name: str = ""
    session_id: str = ""  # ``-u``: the exec session ID; the container ID when empty
    log_path: Path | None = None  # k8s-file log; None logs nothing (``-l none``)
    conmon_path: str = CONMON_PATH
    conmon_pidfile: Path | None = None
    runtime_args: tuple[str, ...] = ()  # global runtime flags, e.g. ("--root", "/run/doca/rt")
    terminal: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    exec_process_spec: Path | None = None
    exec_attach: bool = False  # hold the exec until the caller has connected to ``attach``
    exit_command: tuple[str, ...] = ()
    exit_delay: int = 0
    socket_dir_path: Path | None = None
    log_size_max: int | None = None
    log_level: str = "warning"
    timeout: int = 0  # kill the container after this many seconds (0: never)
    no_new_keyring: bool = False
    systemd_cgroup: bool = False
    sync: bool = False  # keep conmon as our child (tests only: it then dies with us)

    @property
    def is_exec(self) -> bool:
        return self.exec_process_spec is not None


def conmon_argv(opts: ConmonOptions) -> list[str]:
    """conmon's command line, in the order podman writes it (pure)."""
    argv = [opts.conmon_path, "--api-version", "1", "-c", opts.container_id]
    argv += ["-u", opts.session_id or opts.container_id, "-r", opts.runtime_path]
    argv += ["-b", str(opts.bundle), "-p", str(opts.pidfile)]
    argv += ["-n", opts.name or opts.container_id, "--exit-dir", str(opts.exit_dir)]
    argv += ["--persist-dir", str(opts.persist_dir), "--full-attach"]
    for arg in opts.runtime_args:
        argv += ["--runtime-arg", arg]
    if opts.systemd_cgroup:
        argv.append("-s")
    argv += ["-l", f"k8s-file:{opts.log_path}" if opts.log_path else "none"]
    argv += ["--log-level", opts.log_level]
    if opts.log_size_max:
        argv += ["--log-size-max", str(opts.log_size_max)]
    argv += ["--runtime-arg", "--log-format=json", "--runtime-arg", "--log"]
    argv.append(f"--runtime-arg={opts.oci_log}")
    switches = {
        "-t": opts.terminal,
        "-i": opts.stdin,
        "--leave-stdin-open": opts.leave_stdin_open,
        f"--timeout={opts.timeout}": opts.timeout > 0,
        "--no-new-keyring": opts.no_new_keyring,
        "--sync": opts.sync,
    }
    argv += [flag for flag, on in switches.items() if on]
    for flag, path in (
        ("--conmon-pidfile", opts.conmon_pidfile),
        ("--socket-dir-path", opts.socket_dir_path),
    ):
        if path is not None:
            argv += [flag, str(path)]
    if opts.exec_process_spec:
        argv += ["-e", *(["--exec-attach"] if opts.exec_attach else [])]
        argv += ["--exec-process-spec", str(opts.exec_process_spec)]
    if opts.exit_command:
        argv += ["--exit-command", opts.exit_command[0]]
        for arg in opts.exit_command[1:]:
            argv += ["--exit-command-arg", arg]
        if opts.exit_delay > 0:
            argv += ["--exit-delay", str(opts.exit_delay)]
    return argv


@dataclass(frozen=True)
class Created:
    """A container created by conmon: ``pid`` is its init process, not yet started."""

    pid: int
    conmon_pid: int | None


class ExecSession:
    """A running exec process; ``wait`` returns its exit code (conmon also writes the exit file)."""

    def __init__(self, pid: int, conmon_pid: int | None, launch: _Launch) -> None:
        self.pid = pid
        self.conmon_pid = conmon_pid
        self._launch = launch

    async def wait(self) -> int:
        """Exit code of the exec'd process (128+N when killed by signal N)."""
        try:
            data, message = await self._launch.message(self._launch.sync)
        finally:
            self._launch.close()
        if data < 0:
            raise RuntimeFailure(message or f"exec session ended with status {data}")
        return data

    def close(self) -> None:
        """Stop listening for the exit code (the exit file still gets it)."""
        self._launch.close()


def _socketpair() -> tuple[socket.socket, socket.socket]:
    """(ours, conmon's): ours is non-blocking for the event loop."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    return ours, theirs


class _Launch:
    """One conmon process plus our ends of its socketpairs."""

    def __init__(self, opts: ConmonOptions) -> None:
        self.opts = opts
        self.sync, sync_child = _socketpair()
        self.start, start_child = _socketpair()
        self.children = {"_OCI_SYNCPIPE": sync_child, "_OCI_STARTPIPE": start_child}
        self.attach: socket.socket | None = None
        if opts.exec_attach:
            self.attach, self.children["_OCI_ATTACHPIPE"] = _socketpair()
        self.buffers: dict[int, bytes] = {}
        self.proc: asyncio.subprocess.Process | None = None

    async def spawn(self) -> None:
        """Start conmon in its own session, let it proceed, and reap its first process."""
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        env.update((name, str(child.fileno())) for name, child in self.children.items())
        try:
            self.opts.oci_log.write_bytes(b"")  # an earlier run's errors are not this run's
            proc = await asyncio.create_subprocess_exec(
                *conmon_argv(self.opts),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=[child.fileno() for child in self.children.values()],
                env=env,
                cwd=self.opts.bundle,
                start_new_session=True,
            )
        finally:
            for child in self.children.values():  # only conmon may hold these, or EOF never comes
                child.close()
        with contextlib.suppress(OSError):  # if conmon died early, its status says why
            await asyncio.get_running_loop().sock_sendall(self.start, b"\0")
        self.proc = proc
        if self.opts.sync:
            return  # conmon stays our child until the container exits; nothing to reap yet
        code = await proc.wait()
        assert proc.stderr is not None
        err = b""
        with contextlib.suppress(TimeoutError):
            err = await asyncio.wait_for(proc.stderr.read(), 2.0)
        if code != 0:
            raise RuntimeFailure(f"conmon failed: {err.decode(errors='replace').strip()}")

    async def message(self, sock: socket.socket) -> tuple[int, str]:
        """Next ``{"data": N, "message": …}`` line conmon sends on ``sock``."""
        loop = asyncio.get_running_loop()
        buf = self.buffers.get(sock.fileno(), b"")
        while b"\n" not in buf:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                raise RuntimeFailure(self.runtime_error("conmon exited without a result"))
            buf += chunk
        line, _, self.buffers[sock.fileno()] = buf.partition(b"\n")
        try:
            decoded = json.loads(line)
            return int(decoded.get("data", -1)), str(decoded.get("message", ""))
        except (ValueError, AttributeError):
            raise RuntimeFailure(f"conmon sent {line!r}") from None

    def runtime_error(self, fallback: str) -> str:
        """The runtime's own error text from its JSON log, else ``fallback``."""
        try:
            text = self.opts.oci_log.read_text(errors="replace")
        except OSError:
            text = ""
        return runtime_message(text) if text.strip() else fallback

    def conmon_pid(self) -> int | None:
        if self.opts.conmon_pidfile is None:
            return None
        try:
            return int(self.opts.conmon_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    async def result(self, sock: socket.socket) -> int:
        """A PID (or the attach go-ahead); a negative report raises the runtime's error."""
        data, message = await self.message(sock)
        if data < 0:
            text = self.runtime_error(message.strip() or f"conmon reported {data}")
            raise RuntimeFailure(text, exit_code=start_exit_code(text))
        return data

    def kill(self) -> None:
        """Best effort: stop a conmon that never finished its handshake."""
        for pid in (
            self.conmon_pid(),
            self.proc and self.proc.returncode is None and self.proc.pid,
        ):
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for sock in (self.sync, self.start, self.attach):
            if sock is not None:
                sock.close()


async def create_container(opts: ConmonOptions, *, timeout: float = DEFAULT_TIMEOUT) -> Created:
    """Run conmon → ``<runtime> create``; the caller then runs ``OciRuntime.start``.

    On failure the runtime may keep a half-made container: the caller deletes it (``--force``).
    """
    launch = _Launch(opts)
    try:
        async with asyncio.timeout(timeout):
            await launch.spawn()
            pid = await launch.result(launch.sync)
        return Created(pid=pid, conmon_pid=launch.conmon_pid())
    except TimeoutError:
        launch.kill()
        raise RuntimeFailure(f"conmon did not report container {opts.container_id}") from None
    finally:
        launch.close()


async def start_exec(
    opts: ConmonOptions,
    *,
    on_attach_ready: Callable[[], Awaitable[None]] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ExecSession:
    """Run conmon → ``<runtime> exec``. With ``exec_attach``, ``on_attach_ready`` runs once the
    attach socket exists and before the process starts, so no output is lost."""
    if not opts.is_exec:
        raise ValueError("start_exec needs exec_process_spec")
    launch = _Launch(opts)
    try:
        async with asyncio.timeout(timeout):
            await launch.spawn()
            if launch.attach is not None:
                await launch.result(launch.attach)
                if on_attach_ready is not None:
                    await on_attach_ready()
                await asyncio.get_running_loop().sock_sendall(launch.start, b"\0")
            pid = await launch.result(launch.sync)
        return ExecSession(pid, launch.conmon_pid(), launch)
    except TimeoutError:
        launch.kill()
        launch.close()
        raise RuntimeFailure(f"conmon did not start exec session {opts.session_id}") from None
    except BaseException:
        launch.close()
        raise
