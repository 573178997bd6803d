"""Engine modes: which one a platform and user get, the command each starts, the settings and
the command line that choose one, the Settings page's fields, and the supervisor's start time
(against the stand-in engine)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.engine_launch import VM_NEEDS_UNIX, plan_launch
from desktop_app.engine_status import (
    EngineLaunch,
    EngineState,
    EngineStatus,
    LaunchError,
    ProcessSampler,
)
from desktop_app.engine_supervisor import EngineSupervisor
from desktop_app.main import make_supervisor, parse_args
from desktop_app.state.engine_mode import (
    NOT_ROOT,
    ROOTLESS_AS_ROOT,
    EngineMode,
    Platform,
    default_local_host,
    default_mode,
    mode_problem,
    parse_mode,
)
from desktop_app.state.settings import Settings, SettingsFiles
from desktop_app.tasks import TaskOwner
from desktop_app.views.engine_controls import EngineControls
from desktop_app.views.prompts import ErrorReporter
from desktop_app.views.settings_view import SettingsView
from engine_vm.options import GIB, MIB, VMOptions
from tests.desktop.fakes import AnsweringPrompts
from tests.desktop.qtwait import finish, run
from tests.support.engine import short_root

FAKE_ENGINE = str(Path(__file__).with_name("fake_engine.py"))
ROOT = Platform("Linux", 0)
USER = Platform("Linux", 1000)
MAC = Platform("Darwin", 501)
XDG = {"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"}


# --- choosing a mode ----------------------------------------------------------------------


def test_the_default_mode_follows_the_platform_and_user() -> None:
    assert default_mode("Linux", 0) is EngineMode.NATIVE
    assert default_mode("Linux", 1000) is EngineMode.ROOTLESS
    assert default_mode("Darwin", 501) is EngineMode.VM
    assert default_mode("Darwin", 0) is EngineMode.VM
    assert default_mode("Windows", -1) is EngineMode.VM


def test_modes_that_cannot_start_here_say_why() -> None:
    assert mode_problem(EngineMode.NATIVE, "Linux", 1000) == NOT_ROOT
    assert mode_problem(EngineMode.ROOTLESS, "Linux", 0) == ROOTLESS_AS_ROOT
    assert "only on Linux" in (mode_problem(EngineMode.ROOTLESS, "Darwin", 501) or "")
    assert "only on Linux" in (mode_problem(EngineMode.NATIVE, "Windows", -1) or "")
    for system, euid in (("Linux", 0), ("Linux", 1000), ("Darwin", 501)):
        assert mode_problem(EngineMode.VM, system, euid) is None
    assert mode_problem(EngineMode.NATIVE, "Linux", 0) is None
    assert mode_problem(EngineMode.ROOTLESS, "Linux", 1000) is None
    assert parse_mode(" Rootless ") is EngineMode.ROOTLESS
    with pytest.raises(ValueError, match="invalid engine mode 'kvm'"):
        parse_mode("kvm")


def test_the_local_socket_is_roots_or_the_users_whatever_the_mode() -> None:
    assert default_local_host("Linux", 0, XDG) == "unix:///run/doca/doca.sock"
    # Where doca-engine --rootless listens by default: $XDG_RUNTIME_DIR/doca/doca.sock.
    assert default_local_host("Linux", 1000, XDG) == "unix:///run/user/1000/doca/doca.sock"


# --- the commands -------------------------------------------------------------------------


def test_native_and_rootless_argv() -> None:
    host = "unix:///run/doca/doca.sock"
    native = plan_launch(EngineMode.NATIVE, host, ROOT, data_root=None,
                         exec_root=Path("/run/doca"), python="py")  # fmt: skip
    argv = ("py", "-m", "engine", "-H", host, "--data-root", "/var/lib/doca", "--exec-root",
            "/run/doca")  # fmt: skip
    assert native == EngineLaunch("native", argv)
    user_host = "unix:///run/user/1000/doca/doca.sock"
    rootless = plan_launch(EngineMode.ROOTLESS, user_host, USER, data_root=None,
                           exec_root=Path("/run/doca"), python="py")  # fmt: skip
    assert rootless.mode == "rootless" and rootless.prepare is None and rootless.sample_tree
    assert rootless.argv == ("py", "-m", "engine", "--rootless", "-H", user_host)
    chosen = plan_launch(EngineMode.ROOTLESS, user_host, USER, data_root=Path("/srv/u"),
                         exec_root=Path("/run/doca"), python="py")  # fmt: skip
    assert chosen.argv[-2:] == ("--data-root", "/srv/u")
    with pytest.raises(LaunchError) as refused:
        plan_launch(EngineMode.NATIVE, host, USER, data_root=None, exec_root=Path("/run/doca"))
    assert str(refused.value) == NOT_ROOT


def test_the_vm_runs_its_service_on_a_state_directory(tmp_path: Path) -> None:
    options = VMOptions(cpus=1, memory=512 * MIB, disk=GIB, shares=())
    launch = plan_launch(EngineMode.VM, f"unix://{tmp_path}/d.sock", USER, data_root=None,
                         exec_root=Path("/run/doca"), vm_options=options,
                         vm_state_dir=tmp_path / "state", python="py")  # fmt: skip
    assert launch.mode == "vm"
    assert launch.argv == ("py", "-m", "engine_vm.service", str(tmp_path / "state"))
    assert launch.prepare is not None  # the image and the state directory, in a thread
    assert launch.start_timeout == 120 and launch.stop_timeout == 90
    assert launch.sample_tree  # the VM's memory is QEMU's, the service's child
    with pytest.raises(LaunchError) as refused:
        plan_launch(EngineMode.VM, "tcp://127.0.0.1:2375", USER, data_root=None,
                    exec_root=Path("/run/doca"), vm_options=options)  # fmt: skip
    assert str(refused.value) == VM_NEEDS_UNIX.format(host="tcp://127.0.0.1:2375")


# --- settings and the command line --------------------------------------------------------


def test_settings_validate_the_mode_and_the_vm_with_the_vm_parsers(tmp_path: Path) -> None:
    assert Settings().problems() == []
    assert Settings(engine_mode="vm", vm_cpus=1, vm_memory="512m", vm_disk="1g").problems() == []
    assert Settings(engine_mode="kvm").problems() == [
        "invalid engine mode 'kvm': want one of native, rootless, vm"
    ]
    assert Settings(vm_cpus=0).problems() == [
        "VM: invalid CPU count: 0: it must be at least 1"
    ]  # fmt: skip
    assert Settings(vm_memory="lots").problems() == ["VM: invalid size: 'lots'"]
    assert Settings(vm_memory="100m").problems() == [
        "VM: memory 100 MiB is too small: the VM needs at least 256 MiB"
    ]
    assert Settings(vm_disk="512m").problems() == [
        "VM: disk 512 MiB is too small: the VM needs at least 1 GiB"
    ]
    options = Settings(vm_cpus=3, vm_memory="1.5g", vm_disk="8GiB").vm_options(shares=())
    assert (options.cpus, options.memory, options.disk) == (3, 1536 * MIB, 8 * GIB)
    # A mode this version does not know (a newer app's file) starts the default one.
    assert Settings(engine_mode="future").mode("Linux", 1000) is EngineMode.ROOTLESS
    assert Settings(engine_mode="vm").mode("Linux", 0) is EngineMode.VM
    files = SettingsFiles(tmp_path / "desktop.json", tmp_path / "autostart.desktop")
    chosen = Settings(engine_mode="vm", vm_cpus=1, vm_memory="768m", vm_disk="4g")
    files.save(chosen, ["doca-desktop"])
    assert files.load() == chosen


async def test_engine_mode_on_the_command_line_wins(owner: list[EngineSupervisor]) -> None:
    saved = Settings(engine_mode="vm")
    args = parse_args(["--engine-mode", "rootless"], saved, environ=XDG, here=USER)
    assert args.engine_mode is EngineMode.ROOTLESS
    assert args.host == "unix:///run/user/1000/doca/doca.sock" == args.local_host
    assert args.data_root is None  # the rootless engine's own: $XDG_DATA_HOME/doca
    owner.append(make_supervisor(args, args.local_host))
    assert owner[-1].can_start and owner[-1].status.mode == "rootless"
    owner.append(make_supervisor(parse_args([], saved, environ=XDG, here=USER)))
    assert owner[-1].status.mode == "vm"
    # A user's default is rootless (no more refusing to start as a non-root user).
    owner.append(make_supervisor(parse_args([], Settings(), environ=XDG, here=USER)))
    assert owner[-1].status.mode == "rootless"
    root = parse_args([], Settings(), environ={}, here=ROOT)
    assert root.host == "unix:///run/doca/doca.sock" and root.data_root == Path("/var/lib/doca")
    assert root.engine_mode is None
    with pytest.raises(SystemExit):
        parse_args(["--engine-mode", "kvm"], saved, environ=XDG, here=USER)


async def test_a_mode_chosen_in_settings_applies_at_the_next_engine_start(tmp_path: Path) -> None:
    files = SettingsFiles(tmp_path / "desktop.json", tmp_path / "autostart.desktop")
    host = "tcp://127.0.0.1:9"  # nothing answers there
    files.save(Settings(engine_host=host, engine_mode="rootless"), ["doca-desktop"])
    args = parse_args([], files.load(), environ={}, here=ROOT)
    sup = make_supervisor(args, args.local_host, files)
    try:
        sup.start()
        status = await sup.wait_for(EngineState.ERROR, timeout=10)
        assert status.reason == f"no engine answers at tcp://127.0.0.1:9; {ROOTLESS_AS_ROOT}"
        files.save(Settings(engine_host=host, engine_mode="vm"), ["doca-desktop"])
        sup.start()  # "Start engine" in the error state: planned afresh
        async with asyncio.timeout(10):
            while sup.status.mode != "vm":
                await asyncio.sleep(0.05)
        assert sup.status.state is EngineState.ERROR
        assert sup.status.reason.endswith(VM_NEEDS_UNIX.format(host=host))
    finally:
        await sup.aclose()


# --- what the app shows -------------------------------------------------------------------


def test_the_status_names_the_mode_and_the_start_time() -> None:
    running = EngineStatus(EngineState.RUNNING, owned=True, mode="rootless", start_seconds=0.42)
    assert running.summary() == "Engine: running (rootless) — started in 0.4 s"
    assert EngineStatus(EngineState.STOPPED, mode="vm").summary() == "Engine: stopped (vm)"
    # An engine someone else started: its mode is not the app's to say.
    assert EngineStatus(EngineState.RUNNING, mode="vm").summary() == "Engine: running"
    assert EngineStatus(EngineState.STOPPED).summary() == "Engine: stopped"


@pytest.fixture
def root() -> Iterator[Path]:
    path = short_root()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def owner() -> AsyncIterator[list[EngineSupervisor]]:
    made: list[EngineSupervisor] = []
    yield made
    for sup in made:
        await sup.aclose()


def fake_launch(root: Path, *flags: str, **options: object) -> EngineLaunch:
    argv = (sys.executable, FAKE_ENGINE, str(root / "doca.sock"), *flags)
    return EngineLaunch("rootless", argv, **options)  # type: ignore[arg-type]


async def test_the_start_time_is_measured_after_the_prepare_step(
    root: Path, owner: list[EngineSupervisor]
) -> None:
    def prepare(log: object) -> None:
        assert callable(log)
        log("getting ready")
        __import__("time").sleep(0.5)  # a slow preparation is not start time

    launch = fake_launch(root, prepare=prepare)
    sup = EngineSupervisor(f"unix://{root}/doca.sock", None, launch=lambda: launch,
                           backoff=(0.1,), stop_timeout=5)  # fmt: skip
    owner.append(sup)
    sup.start()
    status = await sup.wait_for(EngineState.RUNNING, timeout=15)
    assert status.mode == "rootless" and status.owned
    assert status.start_seconds is not None and 0 < status.start_seconds < 10
    assert f"started in {status.start_seconds:.1f} s" in status.summary()
    assert sup.log_tail()[0] == "getting ready"
    await sup.stop()
    assert sup.status.start_seconds is None and sup.status.summary() == "Engine: stopped (rootless)"


async def test_a_failed_prepare_and_the_launchs_own_timeout(
    root: Path, owner: list[EngineSupervisor]
) -> None:
    def fail(_log: object) -> None:
        raise OSError("no image here")

    host = f"unix://{root}/doca.sock"
    sup = EngineSupervisor(host, None, launch=lambda: fake_launch(root, prepare=fail),
                           max_restarts=0)  # fmt: skip
    owner.append(sup)
    sup.start()
    status = await sup.wait_for(EngineState.ERROR, timeout=10)
    assert status.reason == "cannot start the engine: no image here; gave up after 0 restarts"
    slow = fake_launch(root, "--never-ready", start_timeout=1.5, stop_timeout=2)
    sup = EngineSupervisor(host, None, launch=lambda: slow, max_restarts=0, start_timeout=60)
    owner.append(sup)
    sup.start()
    status = await sup.wait_for(EngineState.ERROR, timeout=15)
    assert status.reason == "the engine did not answer within 1.5 s; gave up after 0 restarts"


def test_a_tree_sample_counts_the_descendants() -> None:
    # A parent that only waits for a child holding 64 MB: the engine under its launcher.
    child = "b = bytearray(64 << 20); print('ready', flush=True); import time; time.sleep(60)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    proc = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        alone = ProcessSampler(proc.pid).sample()
        tree = ProcessSampler(proc.pid, tree=True).sample()
        assert alone is not None and tree is not None
        assert tree[1] > alone[1] + (60 << 20)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its child: the group is theirs
        proc.wait()


# --- the Settings page and the engine actions ---------------------------------------------


@pytest.fixture
def view(qtbot: QtBot, qloop: asyncio.AbstractEventLoop, tmp_path: Path) -> Iterator[SettingsView]:
    tasks = TaskOwner("test-engine-mode-settings")
    files = SettingsFiles(tmp_path / "desktop.json", tmp_path / "autostart.desktop")
    page = SettingsView(files, tasks, launch=lambda: ["doca-desktop"], default=EngineMode.ROOTLESS)
    qtbot.addWidget(page)
    yield page
    run(qtbot, tasks.aclose())


def test_the_vm_fields_are_for_the_vm_only(qtbot: QtBot, view: SettingsView) -> None:
    assert view.mode_box.currentText() == "Default: Rootless"
    assert not view.memory_edit.isEnabled() and not view.cpus_box.isEnabled()
    view.mode_box.setCurrentIndex(view.mode_box.findData("vm"))
    assert view.memory_edit.isEnabled() and view.disk_edit.isEnabled() and view.cpus_box.isEnabled()
    view.cpus_box.setValue(1)
    view.memory_edit.setText("100m")
    assert view.save() is None
    assert "VM: memory 100 MiB is too small" in view.status.text()
    view.memory_edit.setText("768m")
    finish(qtbot, view.save())
    assert "next engine start" in view.status.text()
    saved = view.files.load()
    assert (saved.engine_mode, saved.vm_cpus, saved.vm_memory) == ("vm", 1, "768m")
    view.mode_box.setCurrentIndex(0)
    assert not view.disk_edit.isEnabled() and view.chosen_mode() is EngineMode.ROOTLESS


def test_the_engine_actions_name_the_mode(qtbot: QtBot, qloop: asyncio.AbstractEventLoop) -> None:
    tasks = TaskOwner("test-engine-actions")
    sup = EngineSupervisor("unix:///nonexistent/doca.sock", None, mode="vm")
    controls = EngineControls(sup, tasks, ErrorReporter(AnsweringPrompts()))
    try:
        assert controls.start_action.text() == "Start engine (vm)"
        assert controls.restart_action.text() == "Restart engine (vm)"
    finally:
        run(qtbot, tasks.aclose())
        run(qtbot, sup.aclose())
        controls.deleteLater()
        qtbot.wait(10)
