"""How the app starts its local engine in each mode, as an ``EngineLaunch`` for the supervisor:
``doca-engine`` as root (native), ``doca-engine --rootless`` as the app's user, or the VM
service serving the engine's socket from a QEMU VM.

``plan_launch`` is pure (it names commands, it runs nothing); the VM's ``prepare`` step, which
may build the VM image, runs in the supervisor. ``engine_vm`` is imported only for the VM: it
costs every other start-up time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from desktop_app.engine_status import EngineLaunch, LaunchError, engine_argv, rootless_argv
from desktop_app.state.engine_mode import EngineMode, Platform, mode_problem
from desktop_app.state.settings import DEFAULT_DATA_ROOT
from engine_vm.options import VMOptions

VM_NEEDS_UNIX = "the VM serves the engine on a unix socket; give unix:///PATH (not {host})"


def plan_launch(
    mode: EngineMode,
    host: str,
    platform: Platform,
    *,
    data_root: Path | None,
    exec_root: Path,
    vm_options: VMOptions | None = None,
    vm_state_dir: Path | None = None,
    python: str = sys.executable,
) -> EngineLaunch:
    """The launch of the engine serving ``host`` in ``mode``; ``LaunchError`` when it cannot
    start here. ``data_root`` None is the mode's default (``/var/lib/doca`` as root, the XDG
    data directory rootless); the VM keeps its data on its own disk."""
    problem = mode_problem(mode, platform.system, platform.euid)
    if problem is not None:
        raise LaunchError(problem, mode.value)
    if mode is EngineMode.NATIVE:
        argv = engine_argv(host, data_root or Path(DEFAULT_DATA_ROOT), exec_root, python)
        return EngineLaunch(mode.value, tuple(argv))
    if mode is EngineMode.ROOTLESS:
        argv = rootless_argv(host, data_root, python)
        return EngineLaunch(mode.value, tuple(argv), sample_tree=True)
    return vm_launch(host, vm_options or VMOptions(), vm_state_dir, python)


def vm_socket(host: str) -> Path:
    """The socket path of a ``unix://`` host; ``LaunchError`` for any other."""
    url = urlsplit(host)
    if url.scheme != "unix" or not url.path.startswith("/"):
        raise LaunchError(VM_NEEDS_UNIX.format(host=host), EngineMode.VM.value)
    return Path(url.path)


def vm_launch(
    host: str, options: VMOptions, state_dir: Path | None = None, python: str = sys.executable
) -> EngineLaunch:
    """The VM service as the supervised process: prepared (image, state directory, settings)
    as ``doca engine start --vm`` prepares it, stopped by SIGTERM (a clean power-off)."""
    from engine_vm import control

    socket = vm_socket(host)
    state = control.state_for(socket, state_dir)

    def prepare(log: Callable[[str], None]) -> None:
        control.prepare_service(socket, options, state_dir, log)

    return EngineLaunch(
        EngineMode.VM.value,
        tuple(control.service_argv(state.root, python)),
        prepare,
        start_timeout=control.START_TIMEOUT,
        # The service gives the guest time to power off before it stops QEMU harder.
        stop_timeout=control.STOP_TIMEOUT,
        sample_tree=True,
    )
