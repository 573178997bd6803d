"""PID 1 of the VM: set the system up, run doca-engine, serve its socket to the host, reap
orphans, and shut everything down cleanly when the power button is pressed.

Boot: mount the API filesystems, load the modules the image lists, bring the network up,
mount the data disk (formatting it on first boot) at /var/lib/doca and the host's shared
folders at their host paths, read the token, then start the engine and the bridge. The VM
powers off when the engine exits on its own, so the host sees QEMU end instead of a VM that
no longer answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

from engine_vm.guest import cmdline, power, system
from engine_vm.guest.bridge import Bridge, listening_socket

MODULES_FILE = "/etc/doca/modules"
EXEC_ROOT = "/run/doca"
ENGINE_SOCKET = f"{EXEC_ROOT}/engine.sock"
#: How long the engine has to stop (its containers too) before it is killed.
ENGINE_STOP_TIMEOUT = 30.0
#: How long the rest of the processes have after SIGTERM before SIGKILL.
PROCESS_STOP_TIMEOUT = 5.0
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "linux",
}

log = logging.getLogger("doca.vm.init")


def engine_argv(python: str = sys.executable) -> list[str]:
    return [
        python, "-m", "engine", "-H", f"unix://{ENGINE_SOCKET}",
        "--data-root", system.DATA_ROOT, "--exec-root", EXEC_ROOT, "--group", "root",
    ]  # fmt: skip


def uptime() -> float:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def boot() -> tuple[cmdline.GuestConfig, bytes]:
    """Everything before the engine starts; the VM's settings and its token."""
    system.early_filesystems()
    config = cmdline.parse(Path("/proc/cmdline").read_text())
    modules = Path(MODULES_FILE).read_text().split()
    system.load_modules(modules)
    system.network()
    if system.data_disk():
        log.info("formatted the data disk %s", system.DATA_DISK)
    for m in system.share_mounts((s.tag, s.path) for s in config.shares):
        system.mount(m)
    os.makedirs(EXEC_ROOT, exist_ok=True)
    log.info("system up at %.2fs", uptime())
    return config, system.read_token()


class Init:
    """The running system: the engine process, the bridge, and PID 1's duties."""

    def __init__(self, config: cmdline.GuestConfig, token: bytes) -> None:
        self.config = config
        self.token = token
        self.engine_pid = 0
        self.engine_exit: asyncio.Future[int] | None = None
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.engine_exit = loop.create_future()
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGPWR):
            loop.add_signal_handler(signum, self.stopping.set)
        button = self._watch_power_button(loop)
        self.engine_pid = os.posix_spawn(engine_argv()[0], engine_argv(), ENV)
        bridge = Bridge(
            listening_socket(self.config.transport, self.config.port), self.token, ENGINE_SOCKET
        )
        await bridge.start()
        log.info("engine started (pid %d), serving on %s port %d at %.2fs", self.engine_pid,
                 self.config.transport, self.config.port, uptime())  # fmt: skip
        stop: asyncio.Future[object] = asyncio.ensure_future(self.stopping.wait())
        exited: asyncio.Future[object] = asyncio.ensure_future(self.engine_exit)
        try:
            await asyncio.wait([stop, exited], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if button is not None:
                loop.remove_reader(button)
                os.close(button)
        await bridge.stop()
        if self.engine_exit.done():
            log.error("doca-engine exited with code %d; powering off", self.engine_exit.result())
        else:
            log.info("shutting down")
            await self._stop_engine()
        await self._stop_processes()

    def _watch_power_button(self, loop: asyncio.AbstractEventLoop) -> int | None:
        device = power.power_button_device()
        if device is None:
            log.warning("no power button: only a signal to PID 1 shuts the VM down cleanly")
            return None
        fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

        def readable() -> None:
            try:
                data = os.read(fd, power.INPUT_EVENT.size * 16)
            except BlockingIOError:
                return
            if power.pressed(data):
                self.stopping.set()

        loop.add_reader(fd, readable)
        return fd

    def _reap(self) -> None:
        """Collect every exited child: the engine's exit is recorded, orphans are let go."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.engine_pid and self.engine_exit and not self.engine_exit.done():
                self.engine_exit.set_result(os.waitstatus_to_exitcode(status))

    async def _stop_engine(self) -> None:
        assert self.engine_exit is not None
        os.kill(self.engine_pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(ENGINE_STOP_TIMEOUT):
                code = await self.engine_exit
            log.info("doca-engine stopped (code %d)", code)
        except TimeoutError:
            log.warning("doca-engine did not stop within %gs; killing it", ENGINE_STOP_TIMEOUT)
            os.kill(self.engine_pid, signal.SIGKILL)

    async def _stop_processes(self) -> None:
        """SIGTERM to every process left (containers, conmon), SIGKILL after a grace time;
        done once PID 1 has no children (orphans all come back to it)."""
        for signum, grace in ((signal.SIGTERM, PROCESS_STOP_TIMEOUT), (signal.SIGKILL, 2.0)):
            try:
                os.kill(-1, signum)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self._reap()
                if not _has_children():
                    return
                await asyncio.sleep(0.05)


def _has_children() -> bool:
    try:
        return bool(Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split())
    except OSError:
        return False


def unmount_all(config: cmdline.GuestConfig) -> None:
    mounts = Path("/proc/self/mounts").read_text()
    for point in system.mounts_under(system.DATA_ROOT, mounts):
        system.umount(point)
    for share in config.shares:
        system.umount(share.path)


def main() -> None:
    os.environ.clear()
    os.environ.update(ENV)
    os.umask(0o022)
    logging.basicConfig(level=logging.INFO, format="doca-init: %(message)s", stream=sys.stderr)
    config = cmdline.GuestConfig()
    try:
        config, token = boot()
        asyncio.run(Init(config, token).run())
    except BaseException:
        log.exception("the VM stops on an error")
    finally:
        try:
            unmount_all(config)
        finally:
            log.info("powering off")
            system.power_off()


if __name__ == "__main__":
    main()
