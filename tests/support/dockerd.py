"""Debian's dockerd on a private socket and data root: the reference the tests compare with."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.engine import wait_ready

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


def dockerd_available() -> bool:
    return os.path.exists(DOCKERD) and os.geteuid() == 0


@dataclass
class Dockerd:
    root: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.root}/dockerd.sock"

    def start(self, ping: Callable[[], bool], timeout: float = 60) -> None:
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            [
                DOCKERD,
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "-H",
                self.host,
                "--iptables=false",
                "--bridge=none",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_ready(self.proc, ping, timeout, self._log_text)

    def _log_text(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM lets dockerd stop the containerd it started; never kill it by name."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
