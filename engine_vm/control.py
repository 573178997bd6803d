"""Start, stop and inspect the VM that serves an engine socket: what ``doca engine … --vm``
and the desktop app's supervisor call.

``start`` builds (or finds) the image, starts ``engine_vm.service`` in the background and
returns once ``/_ping`` answers through the served socket; ``stop`` signals that process,
which powers the VM off cleanly; ``status`` reads what the running VM left in its state
directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from engine_vm.accel import host_accelerator
from engine_vm.image import ensure_image
from engine_vm.options import VMOptions
from engine_vm.probe import answers_ping
from engine_vm.state import Settings, VMState, default_state_dir, read_pid

SERVICE_MODULE = "engine_vm.service"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 90.0
_POLL = 0.05


class VMError(Exception):
    pass


@dataclass(frozen=True)
class Started:
    pid: int  # the service process
    seconds: float  # from starting the service to /_ping answering
    accelerator: str
    state_dir: Path


@dataclass(frozen=True)
class Status:
    socket: Path
    state_dir: Path
    pid: int | None  # the service process, when it runs
    qemu_pid: int | None
    answers: bool
    settings: Settings | None
    transport: str | None

    @property
    def running(self) -> bool:
        return self.pid is not None


def state_for(socket_path: Path, state_dir: Path | None) -> VMState:
    return VMState(state_dir or default_state_dir(socket_path))


def is_service(pid: int) -> bool:
    """Whether ``pid`` is a VM service (not a process that took over a stale PID)."""
    try:
        return SERVICE_MODULE in psutil.Process(pid).cmdline()
    except (psutil.Error, OSError):
        return False


def service_pid(state: VMState) -> int | None:
    pid = read_pid(state.service_pidfile)
    return pid if pid is not None and is_service(pid) else None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except FileNotFoundError:
        return ""


def prepare_service(
    socket_path: Path,
    options: VMOptions,
    state_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> VMState:
    """Make the VM serving ``socket_path`` ready to start (the image found or built, stale
    runtime files gone, the settings written); blocks while an image is built. Raises
    ``VMError`` when a VM or an engine already serves the socket, and the image's errors when
    there is no image and none can be built here. ``start`` runs the service next; the desktop
    app's supervisor runs ``service_argv`` as its own child instead."""
    state = state_for(socket_path, state_dir)
    pid = service_pid(state)
    if pid is not None:
        raise VMError(f"a VM already serves {socket_path} (pid {pid}, {state.root})")
    if answers_ping(socket_path):
        raise VMError(f"An engine already answers at unix://{socket_path}")
    image = ensure_image(log=log)
    accelerator = host_accelerator() if options.accelerator == "auto" else options.accelerator
    state.prepare()
    for stale in state.runtime_files():
        stale.unlink(missing_ok=True)
    state.write_settings(Settings.make(socket_path.absolute(), image.directory, options,
                                       accelerator))  # fmt: skip
    return state


def service_argv(state_root: Path, python: str = sys.executable) -> list[str]:
    """The VM service's command line: it runs until SIGTERM (then powers the VM off) or until
    QEMU ends (then it exits non-zero)."""
    return [python, "-m", SERVICE_MODULE, str(state_root)]


def start(
    socket_path: Path,
    options: VMOptions,
    state_dir: Path | None = None,
    timeout: float = START_TIMEOUT,
    log: Callable[[str], None] = print,
) -> Started:
    """Boot the VM serving ``socket_path``; returns once its engine answers ``/_ping``."""
    state = prepare_service(socket_path, options, state_dir, log)
    began = time.monotonic()
    with state.service_log.open("ab") as output:
        process = subprocess.Popen(
            service_argv(state.root),
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    deadline = began + timeout
    while not answers_ping(socket_path, timeout=1.0):
        code = process.poll()
        if code is not None:
            raise VMError(
                f"the VM exited at start (code {code}). Its log ends:\n"
                f"{_tail(state.service_log).rstrip()}\nIts console ends:\n"
                f"{_tail(state.console_log).rstrip()}"
            )
        if time.monotonic() > deadline:
            _signal_and_wait(process.pid, STOP_TIMEOUT)
            raise VMError(
                f"the VM's engine did not answer at unix://{socket_path} within {timeout:g} "
                f"seconds; its console ends:\n{_tail(state.console_log).rstrip()}"
            )
        time.sleep(_POLL)
    accelerator = state.read_settings().accelerator
    return Started(process.pid, time.monotonic() - began, accelerator, state.root)


def _signal_and_wait(pid: int, timeout: float) -> bool:
    """SIGTERM to the service ``pid``; True once it has exited (within ``timeout``)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        return False
    return True


def stop(socket_path: Path, state_dir: Path | None = None, timeout: float = STOP_TIMEOUT) -> int:
    """Shut the VM serving ``socket_path`` down cleanly; the PID of the service stopped."""
    state = state_for(socket_path, state_dir)
    pid = read_pid(state.service_pidfile)
    if pid is None:
        raise VMError(f"No VM serves {socket_path}: no pidfile at {state.service_pidfile}")
    if not is_service(pid):
        state.service_pidfile.unlink(missing_ok=True)
        raise VMError(f"No VM serves {socket_path}: pid {pid} from {state.service_pidfile} "
                      "is not running")  # fmt: skip
    if not _signal_and_wait(pid, timeout):
        raise VMError(f"the VM (pid {pid}) did not stop within {timeout:g} seconds")
    return pid


def status(socket_path: Path, state_dir: Path | None = None) -> Status:
    state = state_for(socket_path, state_dir)
    pid = service_pid(state)
    settings = None
    link: dict[str, object] = {}
    if state.settings.exists():
        settings = state.read_settings()
    if pid is not None:
        try:
            link = json.loads(state.link.read_text())
        except (FileNotFoundError, ValueError):
            link = {}
    qemu_pid = link.get("qemu_pid")
    transport = link.get("transport")
    return Status(
        socket=socket_path,
        state_dir=state.root,
        pid=pid,
        qemu_pid=qemu_pid if isinstance(qemu_pid, int) else None,
        answers=answers_ping(socket_path),
        settings=settings,
        transport=transport if isinstance(transport, str) else None,
    )
