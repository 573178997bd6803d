"""Doca in rootless mode for the benchmarks: ``doca-engine --rootless`` run by a user made for
the run (the rootless tests' ``tests.support.rootless``: a subordinate ID range of its own,
removed afterwards, nothing changed on the host), and the docker CLI run as that user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.engines import Engine
from tests.support.engine import DockerCLI
from tests.support.rootless import RootlessUser, rootless_user, unavailable
from tests.support.testimage import TestImage

START_TIMEOUT = 30.0


def rootless_available() -> bool:
    return unavailable() is None


class UserDockerCLI(DockerCLI):
    """The docker CLI run as the bench user itself (no wrapper process in the timing)."""

    def __init__(self, user: RootlessUser) -> None:
        super().__init__(f"unix://{user.socket}", user.home / "docker-config")
        self.user = user

    def env(self) -> dict[str, str]:
        return self.user.environ()

    def run_options(self) -> dict[str, Any]:
        return {
            "user": self.user.uid,
            "group": self.user.gid,
            "extra_groups": [],
            "cwd": self.user.home,
        }


def _stop(user: RootlessUser, proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the engine's outer process (it passes it on), then wait for the launcher."""
    with contextlib.suppress(OSError, ValueError):
        inner = int(user.pidfile.read_text().strip())
        status = Path(f"/proc/{inner}/status").read_text()
        outer = int(status.split("PPid:", 1)[1].split()[0])
        if Path(f"/proc/{outer}").stat().st_uid == user.uid:
            os.kill(outer, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def doca_rootless(image: TestImage) -> Iterator[Engine | None]:
    """Doca run rootless by a user of its own, busybox loaded; None where that cannot be."""
    if not rootless_available():
        yield None
        return
    with rootless_user("dbench", 300_000_000) as user:
        engine_argv = [
            str(Path(sys.executable).with_name("doca-engine")),
            "--rootless",
            "--log-level",
            "warn",
            "--pidfile",
            str(user.pidfile),
        ]
        log = user.scratch / "engine.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                user.launch_argv(engine_argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            cli = UserDockerCLI(user)
            deadline = time.monotonic() + START_TIMEOUT
            while not (user.socket.exists() and cli("version", check=False).returncode == 0):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the rootless engine did not start:\n{log.read_text()}")
                time.sleep(0.2)
            tar = user.home / "busybox.tar"
            shutil.copyfile(image.save_tar, tar)
            os.chown(tar, user.uid, user.gid)
            cli("load", "-i", str(tar))
            yield Engine("doca rootless", cli, user.socket, int(user.pidfile.read_text()))
        finally:
            _stop(user, proc)
