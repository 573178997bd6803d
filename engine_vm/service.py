"""The host process that owns one VM: it runs QEMU, serves the engine's socket, and shuts the
VM down cleanly on SIGTERM (``python -m engine_vm.service STATE_DIR``).

``control.start`` writes the VM's settings into its state directory and starts this process
in the background; ``control.stop`` signals it. The process ends when the VM does: a guest
that powers off by itself (its engine died) takes the socket with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import IO

from engine_vm import qemu_command
from engine_vm.forward import Connector, Forwarder, tcp_connector, vsock_connector
from engine_vm.machine import Machine
from engine_vm.qmp import QMP, QMPError
from engine_vm.state import VMState

#: Attempts at starting QEMU: a port or vsock CID taken between choosing and binding it
#: makes QEMU exit at once, and another is tried.
START_ATTEMPTS = 3
#: How long QEMU has to come up (answer QMP) before the start counts as failed.
QEMU_UP_TIMEOUT = 30.0
FIRST_GUEST_CID = 3

log = logging.getLogger("doca.vm.service")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def vsock_available() -> bool:
    return platform.system() == "Linux" and os.access("/dev/vhost-vsock", os.R_OK | os.W_OK)


def choose_link(transport: str) -> qemu_command.Link:
    """vsock where the host has vhost-vsock, else QEMU's loopback port forward."""
    if transport == "vsock" or (transport == "auto" and vsock_available()):
        return qemu_command.Link("vsock", cid=random.randrange(FIRST_GUEST_CID, 0xFFFF_FFFF))
    return qemu_command.Link("tcp", host_port=free_port())


def connector(link: qemu_command.Link) -> Connector:
    if link.transport == "vsock":
        return vsock_connector(link.cid, link.guest_port)
    return tcp_connector(link.host_port)


def find_qemu(arch: str) -> str:
    name = qemu_command.binary(arch)
    found = os.environ.get("DOCA_VM_QEMU") or shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed")
    return found


def ensure_data_disk(path: Path, size: int) -> None:
    """A sparse raw disk of ``size`` bytes (grown when asked for more; the guest formats it
    on first boot)."""
    if not path.exists() or path.stat().st_size < size:
        with open(path, "ab") as disk:
            disk.truncate(size)


async def _qemu_up(machine: Machine, qmp_socket: Path) -> bool:
    """Wait until QEMU answers QMP (it is past setting up its devices) or exits."""
    async with asyncio.timeout(QEMU_UP_TIMEOUT):
        while machine.running:
            with contextlib.suppress(OSError, QMPError, TimeoutError):
                async with QMP(qmp_socket) as qmp:
                    await qmp.execute("query-status")
                    return True
            await asyncio.sleep(0.05)
    return False


async def start_machine(state: VMState, output: IO[bytes]) -> tuple[Machine, qemu_command.Link]:
    settings = state.read_settings()
    options = settings.vm_options()
    image = Path(settings.image)
    arch = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    files = qemu_command.BootFiles(
        kernel=image / "vmlinuz", initrd=image / "initrd.img", root_disk=image / "root.img",
        data_disk=state.data_disk, console_log=state.console_log,
        qmp_socket=state.qmp_socket, pidfile=state.qemu_pidfile, token=state.token,
    )  # fmt: skip
    ensure_data_disk(state.data_disk, options.disk)
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    for attempt in range(1, START_ATTEMPTS + 1):
        link = choose_link(options.transport)
        argv = qemu_command.qemu_command(
            find_qemu(arch), options, files, link, settings.accelerator, arch, euid
        )
        log.info("starting QEMU: %s", " ".join(argv))
        machine = Machine(argv, state.qmp_socket, output)
        await machine.start()
        if await _qemu_up(machine, state.qmp_socket):
            return machine, link
        code = await machine.stop()
        log.warning("QEMU exited at start (code %s), attempt %d of %d",
                    code, attempt, START_ATTEMPTS)  # fmt: skip
    raise RuntimeError(f"QEMU did not start; see {state.service_log}")


async def serve(state: VMState) -> int:
    """Run the VM until SIGTERM/SIGINT or until it stops by itself; 0 after a clean stop."""
    settings = state.read_settings()
    token = secrets.token_hex(32).encode()
    state.write_token(token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    output = state.service_log.open("ab")
    forwarder: Forwarder | None = None
    try:
        machine, link = await start_machine(state, output)
        state.link.write_text(json.dumps({**link.__dict__, "qemu_pid": machine.pid}) + "\n")
        forwarder = Forwarder(Path(settings.socket), connector(link), token)
        await forwarder.start()
        log.info("serving unix://%s (QEMU pid %d, %s)", settings.socket, machine.pid,
                 link.transport)  # fmt: skip
        stopped = asyncio.create_task(stop.wait())
        exited = asyncio.create_task(machine.wait())
        await asyncio.wait([stopped, exited], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        await forwarder.stop()
        if exited.done():
            exited_code = exited.result()
            log.error("the VM stopped by itself (QEMU exit code %d); its console: %s",
                      exited_code, state.console_log)  # fmt: skip
            return 1
        exited.cancel()
        code = await machine.stop()
        log.info("VM stopped (QEMU exit code %d)", code)
        return 0
    finally:
        if forwarder is not None:
            await forwarder.stop()
        output.close()
        for path in state.runtime_files():
            if path != state.service_pidfile:
                path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine_vm.service STATE_DIR", file=sys.stderr)
        sys.exit(2)
    state = VMState(Path(args[0]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)  # fmt: skip
    state.service_pidfile.write_text(f"{os.getpid()}\n")
    try:
        code = asyncio.run(serve(state))
    except Exception:
        log.exception("the VM service failed")
        code = 1
    finally:
        state.service_pidfile.unlink(missing_ok=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
