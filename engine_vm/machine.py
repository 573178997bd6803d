"""One QEMU process: started with its argv, stopped cleanly through QMP.

Stopping presses the VM's power button (``system_powerdown``) so the guest stops the engine
and unmounts its disks; QEMU exits when the guest powers off. A guest that does not finish
in time gets ``quit``, then signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from engine_vm.qmp import QMP, QMPError

#: How long the guest has to shut down after the power button before QEMU is told to quit.
POWERDOWN_TIMEOUT = 45.0
QUIT_TIMEOUT = 5.0
PR_SET_PDEATHSIG = 1

log = logging.getLogger("doca.vm.machine")


def _die_with_parent() -> None:
    """In the child before exec: QEMU gets SIGTERM if the process that owns it dies, so a
    crashed owner leaves no VM running with nobody serving its socket."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Machine:
    def __init__(self, argv: Sequence[str], qmp_socket: Path, output: IO[bytes]) -> None:
        self.argv = list(argv)
        self.qmp_socket = qmp_socket
        self.output = output
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=self.output,
            stderr=self.output,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def _exited_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self.wait()
            return True
        except TimeoutError:
            return False

    async def _qmp(self, command: str) -> None:
        async with QMP(self.qmp_socket) as qmp:
            await qmp.execute(command)

    async def stop(self, timeout: float = POWERDOWN_TIMEOUT) -> int:
        """Shut the VM down (power button, then ``quit``, then SIGTERM and SIGKILL); QEMU's
        exit status."""
        assert self.process is not None
        if not self.running:
            return await self.wait()
        try:
            await self._qmp("system_powerdown")
        except (OSError, QMPError, TimeoutError) as exc:
            log.warning("could not press the VM's power button: %s", exc)
        else:
            if await self._exited_within(timeout):
                return await self.wait()
            log.warning("the VM did not power off within %gs; telling QEMU to quit", timeout)
        with contextlib.suppress(OSError, QMPError, TimeoutError):
            await self._qmp("quit")
        if await self._exited_within(QUIT_TIMEOUT):
            return await self.wait()
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)
            if await self._exited_within(QUIT_TIMEOUT):
                break
        return await self.wait()
