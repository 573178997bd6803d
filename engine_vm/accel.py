"""Which accelerator QEMU uses on this host: KVM on Linux, Hypervisor.framework on macOS,
the Windows Hypervisor Platform on Windows, and TCG (emulation, slow) where none of them can
run an ordinary guest kernel.

On x86 Linux, ``/dev/kvm`` alone is not enough: a KVM that the CPU does not back with VT-x or
AMD-V (a paravirtual KVM inside another VM, such as PVM) runs only guest kernels built for it,
and a distribution kernel hangs there at its first instructions.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterable
from pathlib import Path

ACCELERATORS = ("kvm", "hvf", "whpx", "tcg")


def choose(system: str, machine: str, kvm_usable: bool, cpu_flags: Iterable[str] = ()) -> str:
    """The accelerator for a host: ``system`` as ``platform.system()`` names it."""
    if system == "Darwin":
        return "hvf"
    if system == "Windows":
        return "whpx"
    if system == "Linux" and kvm_usable:
        x86 = machine.lower() in ("x86_64", "amd64")
        if not x86 or {"vmx", "svm"} & set(cpu_flags):
            return "kvm"
    return "tcg"


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first CPU in a ``/proc/cpuinfo`` text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def host_accelerator() -> str:
    system = platform.system()
    flags: set[str] = set()
    kvm = False
    if system == "Linux":
        kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
        with contextlib.suppress(OSError):
            flags = cpu_flags(Path("/proc/cpuinfo").read_text())
    return choose(system, platform.machine(), kvm, flags)


def why_not_kvm() -> str | None:
    """Why a Linux host cannot run the VM under KVM, in words for the user; None when it can."""
    if platform.system() != "Linux":
        return f"KVM is Linux's ({platform.system()} uses {host_accelerator()})"
    if not Path("/dev/kvm").exists():
        return "/dev/kvm is absent (no KVM on this machine)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable by this user"
    if host_accelerator() != "kvm":
        return ("the CPU shows no VT-x/AMD-V: this /dev/kvm is a paravirtual KVM that runs "
                "only guest kernels built for it")  # fmt: skip
    return None
