"""What the app knows about the engine process: its state, why, its last log lines, and its
CPU/memory (psutil), plus the argv the app uses to start ``doca-engine``."""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
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

    def summary(self) -> str:
        """A one-line text for a status bar or a tray tooltip."""
        text = f"Engine: {self.state.value}"
        if self.reason:
            text += f" — {self.reason}"
        if self.state is EngineState.RUNNING and self.cpu_percent is not None:
            text += f" · CPU {self.cpu_percent:.1f}%"
        if self.state is EngineState.RUNNING and self.memory_rss is not None:
            text += f" · {self.memory_rss / 1e6:.0f} MB"
        return text


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


class ProcessSampler:
    """CPU and memory of one process; ``cpu_percent`` is measured between two calls."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
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
                return self._process.cpu_percent(None), self._process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None


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
