"""The app as an unprivileged user: its supervisor, built as ``doca-desktop`` builds it, starts
``doca-engine --rootless`` as that user without a prompt, on the user's XDG socket, sees it
ready with a start time, and stops it leaving nothing behind.

The user (with a subordinate ID range of its own) is the rootless engine tests' fixture; the
supervisor runs in ``rootless_probe.py`` as that user.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import DOCKER, alive
from tests.support.rootless import RootlessUser, rootless_user

PROBE = Path(__file__).with_name("rootless_probe.py")


def read_report(out: Path, number: int, proc: subprocess.Popen[bytes], timeout: float) -> Any:
    """The probe's ``number``-th JSON line, once it has printed it."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in out.read_text(errors="replace").splitlines() if ln.startswith("{")]
        if len(lines) >= number:
            return json.loads(lines[number - 1])
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the probe printed no report {number}:\n{out.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def user() -> Iterator[RootlessUser]:
    with rootless_user() as account:
        yield account


def test_the_supervisor_starts_a_rootless_engine_as_the_user(user: RootlessUser) -> None:
    out = user.scratch / "probe.out"
    with out.open("wb") as output:
        proc = subprocess.Popen(
            user.launch_argv([sys.executable, str(PROBE)], DOCKER_HOST=""),
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    assert proc.stdin is not None
    try:
        running = read_report(out, 1, proc, timeout=90)
        assert running["state"] == "running", running
        assert running["mode"] == "rootless"
        assert running["host"] == f"unix://{user.socket}"  # $XDG_RUNTIME_DIR/doca/doca.sock
        seconds = running["start_seconds"]
        assert 0 < seconds < 60
        assert f"Engine: running (rootless) — started in {seconds:.1f} s" in running["summary"]
        engine_pid = running["pid"]
        assert Path(f"/proc/{engine_pid}").stat().st_uid == user.uid  # no prompt, no root
        version = subprocess.run(
            ["runuser", "-u", user.name, "--", *user.env(), DOCKER, "version", "--format",
             "{{.Server.Os}}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == "linux"

        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
        stopped = read_report(out, 2, proc, timeout=60)
        assert stopped["state"] == "stopped" and stopped["summary"] == "Engine: stopped (rootless)"
        assert proc.wait(30) == 0
        assert not alive(engine_pid)
        deadline = time.monotonic() + 10
        while user.owned_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert user.owned_pids() == []
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
