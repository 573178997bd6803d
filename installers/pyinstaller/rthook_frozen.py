"""Runs in every frozen program before its entry point.

``engine_vm.control`` starts the VM's host process as ``sys.executable -m engine_vm.service``.
Frozen, ``sys.executable`` is the program itself, which has no ``-m``: the program serves
that command line here, for the modules the bundle carries for it.

Programs started from Finder or the Start menu get a short PATH that leaves out where QEMU
is usually installed (Homebrew on macOS, QEMU's installer on Windows); those places are
appended when they exist, so the VM's host process finds ``qemu-system-*``.
"""

from __future__ import annotations

import os
import runpy
import sys

_RUNNABLE = ("engine_vm.service",)


def _extra_path() -> list[str]:
    if sys.platform == "darwin":
        return ["/opt/homebrew/bin", "/usr/local/bin"]
    if sys.platform == "win32":
        return [os.path.join(os.environ.get("PROGRAMFILES", r"C:\Program Files"), "qemu")]
    return []


def _extend_path() -> None:
    parts = os.environ.get("PATH", "").split(os.pathsep)
    added = [d for d in _extra_path() if d not in parts and os.path.isdir(d)]
    if added:
        os.environ["PATH"] = os.pathsep.join([p for p in parts if p] + added)


def _serve_dash_m() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        return
    module = sys.argv[2]
    if module not in _RUNNABLE:
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: -m {module}: not in this bundle\n")
        sys.exit(2)
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    sys.exit(0)


_extend_path()
_serve_dash_m()
