"""What the app knows about the engine process: its state, why, its mode, how long it took to
start, its last log lines, and its CPU/memory (psutil); plus how the app starts it
(``EngineLaunch``: the argv of ``doca-engine``, or of the VM service)."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil


class EngineState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(frozen=True)
class EngineStatus:
    """One snapshot of the supervised engine; listeners get a new one on every change."""

    state: EngineState = EngineState.STOPPED
    reason: str = ""
    owned: bool = False  # True when the app started the process (and may stop it)
    pid: int | None = None
    cpu_percent: float | None = None
    memory_rss: int | None = None
    log_lines: tuple[str, ...] = ()
    mode: str = ""  # how the app starts its engine (native, rootless, vm); "" when it does not
    start_seconds: float | None = None  # from launching the process to its first /_ping answer

    def summary(self) -> str:
        """A one-line text for a status bar or a tray tooltip."""
        text = f"Engine: {self.state.value}"
        # An engine someone else started may run in any mode: only the app's own is named.
        foreign = self.state is EngineState.RUNNING and not self.owned
        if self.mode and not foreign:
            text += f" ({self.mode})"
        if self.state is EngineState.RUNNING and self.owned and self.start_seconds is not None:
            text += f" — started in {self.start_seconds:.1f} s"
        if self.reason:
            text += f" — {self.reason}"
        if self.state is EngineState.RUNNING and self.cpu_percent is not None:
            text += f" · CPU {self.cpu_percent:.1f}%"
        if self.state is EngineState.RUNNING and self.memory_rss is not None:
            text += f" · {self.memory_rss / 1e6:.0f} MB"
        return text


Prepare = Callable[[Callable[[str], None]], None]


class LaunchError(Exception):
    """Why the app cannot start its engine as things stand (the mode needs root, the VM needs
    a unix socket …); the message is shown as the engine's state, with the mode tried."""

    def __init__(self, message: str, mode: str = "") -> None:
        super().__init__(message)
        self.mode = mode


@dataclass(frozen=True)
class EngineLaunch:
    """How the supervisor starts the engine in one mode: ``argv`` runs until SIGTERM and
    serves ``/_ping`` on the supervisor's host once ready; ``prepare`` (blocking, run in a
    thread before each start, given a function that logs a line) gets things ready first."""

    mode: str
    argv: tuple[str, ...]
    prepare: Prepare | None = None
    start_timeout: float | None = None  # None: the supervisor's own
    stop_timeout: float | None = None
    # CPU and memory count the process's descendants: the engine proper under the rootless
    # launcher, QEMU under the VM service.
    sample_tree: bool = False


def engine_argv(
    host: str,
    data_root: Path,
    exec_root: Path,
    python: str = sys.executable,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line the app starts ``doca-engine`` with (same interpreter as the app)."""
    return [
        python,
        "-m",
        "engine",
        "-H",
        host,
        "--data-root",
        str(data_root),
        "--exec-root",
        str(exec_root),
        *extra,
    ]


def rootless_argv(
    host: str, data_root: Path | None = None, python: str = sys.executable
) -> list[str]:
    """``doca-engine --rootless`` on ``host``; without ``data_root`` the engine keeps its data
    under ``$XDG_DATA_HOME/doca`` (and its runtime state under ``$XDG_RUNTIME_DIR/doca``)."""
    argv = [python, "-m", "engine", "--rootless", "-H", host]
    if data_root is not None:
        argv += ["--data-root", str(data_root)]
    return argv


class ProcessSampler:
    """CPU and memory of one process, with ``tree`` of its descendants too; ``cpu_percent`` is
    measured between two calls."""

    def __init__(self, pid: int, tree: bool = False) -> None:
        self.pid = pid
        self._tree = tree
        self._descendants: dict[int, psutil.Process] = {}  # kept: CPU% needs the last call
        try:
            self._process: psutil.Process | None = psutil.Process(pid)
            self._process.cpu_percent(None)  # the first call only starts the measurement
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self._process = None

    def sample(self) -> tuple[float, int] | None:
        """(CPU %, RSS bytes), or None once the process is gone. Reads /proc: call it from an
        executor, not the UI thread."""
        if self._process is None:
            return None
        try:
            with self._process.oneshot():
                cpu, rss = self._process.cpu_percent(None), self._process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        if self._tree:
            more_cpu, more_rss = self._sample_descendants(self._process)
            cpu, rss = cpu + more_cpu, rss + more_rss
        return cpu, rss

    def _sample_descendants(self, process: psutil.Process) -> tuple[float, int]:
        try:
            found = process.children(recursive=True)
        except psutil.Error:
            return 0.0, 0
        cpu, rss, seen = 0.0, 0, {}
        for child in found:
            known = self._descendants.get(child.pid)
            child = known if known is not None and known == child else child  # not a reused PID
            try:
                with child.oneshot():
                    cpu += child.cpu_percent(None)  # 0.0 the first time: measured from now
                    rss += child.memory_info().rss
            except psutil.Error:
                continue
            seen[child.pid] = child
        self._descendants = seen
        return cpu, rss


def find_listener_pid(host: str) -> int | None:
    """The PID of the process listening on a ``unix://`` host's socket, if it can be seen
    (an engine the app did not start). Scans /proc: call it from an executor."""
    url = urlsplit(host)
    if url.scheme != "unix":
        return None
    try:
        connections = psutil.net_connections("unix")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in connections:
        if conn.laddr == url.path and conn.pid is not None:
            return int(conn.pid)
    return None
