"""The supervisor in VM mode: it prepares the VM as ``doca engine start --vm`` does, runs the
VM service as its child, sees the engine answer through the forwarded socket with a start time,
and on stop the service powers the VM off: no QEMU is left.

Boots a real VM (seconds under KVM, tens of seconds under TCG; a first image build takes
minutes): marked ``vm``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from desktop_app.engine_launch import plan_launch
from desktop_app.engine_status import EngineState
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.state.engine_mode import EngineMode, Platform
from desktop_app.state.settings import Settings
from tests.support.engine import DOCKER

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="building the VM image needs root (debootstrap)"),
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None and shutil.which("qemu-system-aarch64") is None,
        reason="QEMU is not installed",
    ),
    pytest.mark.timeout(900),  # a first build of the image takes minutes
]


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="doca-vmsup-"))  # short: unix sockets fit 108 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_the_supervisor_runs_the_vm_service(root: Path) -> None:
    host = f"unix://{root}/doca.sock"
    state = root / "state"
    settings = Settings(engine_mode="vm", vm_cpus=1, vm_memory="512m", vm_disk="1g")
    options = settings.vm_options(shares=())
    here = Platform("Linux", os.geteuid())
    launch = plan_launch(EngineMode.VM, host, here, data_root=None, exec_root=root,
                         vm_options=options, vm_state_dir=state)  # fmt: skip
    sup = EngineSupervisor(host, None, launch=lambda: launch, mode="vm", max_restarts=0,
                           sample_interval=0.5)  # fmt: skip
    qemu_pid: int | None = None
    try:
        sup.start()
        status = await sup.wait_for(EngineState.RUNNING, EngineState.ERROR, timeout=800)
        assert status.state is EngineState.RUNNING, (status.reason, sup.log_tail(40))
        assert status.mode == "vm" and status.owned and status.start_seconds is not None
        assert f"Engine: running (vm) — started in {status.start_seconds:.1f} s" in (
            status.summary()
        )
        service = psutil.Process(status.pid)
        assert "engine_vm.service" in service.cmdline()
        qemu_pid = json.loads((state / "link.json").read_text())["qemu_pid"]
        assert "qemu" in psutil.Process(qemu_pid).name()
        vm = json.loads((state / "vm.json").read_text())["options"]
        assert (vm["cpus"], vm["memory"]) == (1, 512 * 1024 * 1024)

        config = root / "docker-config"
        config.mkdir()
        env = {"PATH": os.environ["PATH"], "DOCKER_CONFIG": str(config), "DOCKER_HOST": host}
        version = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Os}} {{.Server.KernelVersion}}"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert version.returncode == 0, version.stderr
        assert version.stdout.startswith("linux ")
        # The VM's memory is QEMU's: counted with the service's (itself some 40 MB).
        async with asyncio.timeout(10):
            while not (sup.status.memory_rss or 0) > 120_000_000:
                await asyncio.sleep(0.1)

        await sup.stop()
        assert sup.status.state is EngineState.STOPPED
        assert not psutil.pid_exists(status.pid or 0)
        assert not psutil.pid_exists(qemu_pid)
        assert not (state / "service.pid").exists()
    finally:
        await sup.aclose()
        if qemu_pid is not None and psutil.pid_exists(qemu_pid):
            leftover = psutil.Process(qemu_pid)
            if "qemu" in leftover.name():  # this test's VM, left by a failed stop
                leftover.kill()
