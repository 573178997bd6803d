"""Outbound network for the engine's network namespace: ``slirp4netns``, run by the outer
process (it needs the user's own network) on the engine's namespace.

slirp4netns adds ``tap0`` there with 10.0.2.100/24, a default route through 10.0.2.2 and a
DNS forwarder at 10.0.2.3; the host's own loopback stays out of reach
(``--disable-host-loopback``), as with rootless Docker's default.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import time

READY_TIMEOUT = 10.0
MTU = 65520  # what rootlesskit uses: fewer, larger packets through the userspace stack


def slirp_argv(binary: str, pid: int, ready_fd: int, exit_fd: int) -> list[str]:
    """The command line for the engine's namespace of process ``pid`` (pure)."""
    return [
        binary,
        "--configure",
        f"--mtu={MTU}",
        "--disable-host-loopback",
        f"--ready-fd={ready_fd}",
        f"--exit-fd={exit_fd}",
        str(pid),
        "tap0",
    ]


class Slirp:
    """A running slirp4netns; ``stop`` ends it."""

    def __init__(self, proc: subprocess.Popen[bytes], exit_w: int) -> None:
        self.proc = proc
        self._exit_w = exit_w

    @classmethod
    def start(cls, pid: int) -> Slirp | None:
        """slirp4netns on ``pid``'s network namespace, once it has configured it; None if
        slirp4netns is missing or fails (the engine then runs without outbound network)."""
        binary = shutil.which("slirp4netns")
        if binary is None:
            print(
                "doca-engine: slirp4netns not found: containers get no outbound network",
                file=sys.stderr,
            )
            return None
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        os.set_inheritable(exit_w, False)
        try:
            proc = subprocess.Popen(
                slirp_argv(binary, pid, ready_w, exit_r),
                pass_fds=(ready_w, exit_r),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(ready_w)
            os.close(exit_r)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while time.monotonic() < deadline:
                readable, _, _ = select.select([ready_r], [], [], 0.1)
                if readable:
                    if os.read(ready_r, 1) == b"1":
                        return cls(proc, exit_w)
                    break
                if proc.poll() is not None:
                    break
        finally:
            os.close(ready_r)
        cls(proc, exit_w).stop()
        print(
            "doca-engine: slirp4netns did not start (see above): containers get no outbound "
            "network",
            file=sys.stderr,
        )
        return None

    def stop(self) -> None:
        # Closing the exit pipe is slirp4netns's own signal to quit.
        with contextlib.suppress(OSError):
            os.close(self._exit_w)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
