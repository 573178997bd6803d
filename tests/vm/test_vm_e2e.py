"""The engine inside its VM, end to end: ``doca engine start --vm`` boots it (building or
reusing the cached image), the real docker CLI drives it through the forwarded socket, and
``doca engine stop --vm`` powers it off with nothing left running.

One VM for the module: booting is the slow part (seconds under KVM, tens of seconds where
QEMU has to emulate the CPU).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from engine_vm import accel
from tests.support.engine import DOCKER, DockerCLI
from tests.support.testimage import TestImage

DOCA = Path(sys.executable).with_name("doca")

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(
        not Path("/dev/kvm").exists(), reason="no /dev/kvm: this machine has no KVM"
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="building the VM image needs root (debootstrap)"),
    pytest.mark.timeout(900),  # a first build of the image takes minutes
]


def doca(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(DOCA), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@dataclass
class VM:
    root: Path
    home: Path  # shared into the VM at the same path
    start_output: str

    @property
    def socket(self) -> Path:
        return self.root / "doca.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def vm_args(self) -> list[str]:
        return ["--vm", "-H", self.host, "--state-dir", str(self.state)]

    def pids(self) -> list[int]:
        """The VM service's and QEMU's PIDs, as their pid files name them."""
        found = []
        for name in ("service.pid", "qemu.pid"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                found.append(int((self.state / name).read_text().strip()))
        return found


def _kill_leftovers(pids: list[int]) -> None:
    """After a failed stop: end the processes this module started (by PID only)."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if "qemu" in process.name() or "engine_vm.service" in process.cmdline():
                process.send_signal(signal.SIGKILL)
                process.wait(10)


@pytest.fixture(scope="module")
def vm() -> Iterator[VM]:
    # A short path: unix sockets must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="doca-vm-"))
    home = root / "home"
    home.mkdir()
    machine = VM(root, home, "")
    seen: list[int] = []
    try:
        result = doca("engine", "start", *machine.vm_args(), "--memory", "1g", "--disk", "4g",
                      "--share", str(home))  # fmt: skip
        seen = machine.pids()
        assert result.returncode == 0, (
            f"doca engine start --vm exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        machine.start_output = result.stdout
        yield machine
    finally:
        seen += machine.pids()
        if machine.pids():
            doca("engine", "stop", *machine.vm_args(), timeout=180)
        _kill_leftovers(seen)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def docker(vm: VM) -> DockerCLI:
    config = vm.root / "docker-config"
    config.mkdir(exist_ok=True)
    return DockerCLI(vm.host, config)


@pytest.fixture(scope="module")
def busybox(docker: DockerCLI, test_image: TestImage) -> TestImage:
    docker("load", "-i", str(test_image.save_tar))
    return test_image


def test_start_reports_the_time_to_ping(vm: VM) -> None:
    match = re.search(r"Engine started at (\S+) in a VM \(.*\) in ([\d.]+) s", vm.start_output)
    assert match, vm.start_output
    assert match.group(1) == vm.host
    why = accel.why_not_kvm()
    print(f"VM start to /_ping: {match.group(2)} s ({why or 'KVM'})")
    status = doca("engine", "status", *vm.vm_args())
    assert status.returncode == 0, status.stderr
    assert "its engine answers" in status.stdout


def test_docker_run_echo(docker: DockerCLI, busybox: TestImage) -> None:
    assert docker("run", "--rm", "busybox", "echo", "hi").stdout == "hi\n"


def test_bind_mount_of_a_host_folder_in_the_shared_home(
    vm: VM, docker: DockerCLI, busybox: TestImage
) -> None:
    shared = vm.home / "project"
    shared.mkdir()
    content = f"written on the host {secrets.token_hex(8)}\n"
    (shared / "file").write_text(content)  # after boot: the share is live, not a copy
    result = docker("run", "--rm", "-v", f"{shared}:/h", "busybox", "cat", "/h/file")
    assert result.stdout == content
    docker("run", "--rm", "-v", f"{shared}:/h", "busybox", "sh", "-c", "echo back > /h/reply")
    assert (shared / "reply").read_text() == "back\n"


def test_exec_and_logs_follow(docker: DockerCLI, busybox: TestImage) -> None:
    name = f"vm-{secrets.token_hex(4)}"
    docker("run", "-d", "--name", name, "busybox", "sh", "-c",
           "echo one; sleep 2; echo two; sleep 600")  # fmt: skip
    try:
        assert docker("exec", name, "echo", "from exec").stdout == "from exec\n"
        # Stdin through the hijacked connection, closed by the client, output still back.
        assert docker("exec", "-i", name, "cat", input=b"typed\n").stdout == "typed\n"
        follow = subprocess.Popen(
            [DOCKER, "logs", "-f", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=docker.env(),
        )  # fmt: skip
        try:
            assert follow.stdout is not None
            lines: list[bytes] = []
            deadline = time.monotonic() + 60
            while len(lines) < 2 and time.monotonic() < deadline:
                line = follow.stdout.readline()
                if not line:
                    break
                lines.append(line)
            assert lines == [b"one\n", b"two\n"]  # "two" arrived while the stream was open
            assert follow.poll() is None  # and it still follows
        finally:
            follow.kill()
            follow.wait(10)
    finally:
        docker("rm", "-f", name, check=False)


def test_stop_powers_off_and_leaves_nothing_running(vm: VM) -> None:
    pids = vm.pids()
    link = json.loads((vm.state / "link.json").read_text())
    assert link["qemu_pid"] in pids
    result = doca("engine", "stop", *vm.vm_args(), timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("VM stopped")
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert not vm.socket.exists()
    left = {p.name for p in vm.state.iterdir()}
    assert left <= {"console.log", "service.log", "data.img", "vm.json"}, left
    console = (vm.state / "console.log").read_text()
    assert "doca-engine stopped (code 0)" in console  # the guest shut down, not killed
    assert "powering off" in console
    status = doca("engine", "status", *vm.vm_args())
    assert status.returncode == 1
