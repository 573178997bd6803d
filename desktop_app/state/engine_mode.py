"""How the app runs its local engine: natively as root, rootless as the app's user, or inside a
VM; which one a platform and user get by default; and where the local engine's socket is.

Pure functions of the platform (``platform.system()``), the effective UID and the environment,
so every combination is testable on one machine.
"""

from __future__ import annotations

import enum
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doca.client.transport import DEFAULT_HOST

SOCKET_NAME = "doca.sock"

NOT_ROOT = (
    "starting doca-engine natively needs root: run doca-desktop as root, choose the rootless "
    "engine or the VM in Settings, or start the engine as a service"
)
ROOTLESS_AS_ROOT = "the rootless engine is for a user other than root: choose the native engine"
LINUX_ONLY = "the {mode} engine runs only on Linux: choose the VM"


class EngineMode(enum.StrEnum):
    NATIVE = "native"  # doca-engine as root, as the system's engine
    ROOTLESS = "rootless"  # doca-engine --rootless as the app's user, in a user namespace
    VM = "vm"  # doca-engine inside a small Linux VM under QEMU

    @property
    def label(self) -> str:
        return {"native": "Native (as root)", "rootless": "Rootless", "vm": "Linux VM"}[self]


@dataclass(frozen=True)
class Platform:
    """Where the app runs: ``platform.system()`` and the effective UID."""

    system: str
    euid: int


def current_platform() -> Platform:
    return Platform(platform.system(), os.geteuid() if hasattr(os, "geteuid") else -1)


def default_mode(system: str, euid: int) -> EngineMode:
    """Native for root on Linux, rootless for anyone else there, the VM elsewhere."""
    if system != "Linux":
        return EngineMode.VM
    return EngineMode.NATIVE if euid == 0 else EngineMode.ROOTLESS


def parse_mode(text: str) -> EngineMode:
    """A mode by its name (``native``, ``rootless``, ``vm``); ValueError for anything else."""
    try:
        return EngineMode(text.strip().lower())
    except ValueError:
        names = ", ".join(m.value for m in EngineMode)
        raise ValueError(f"invalid engine mode {text!r}: want one of {names}") from None


def mode_problem(mode: EngineMode, system: str, euid: int) -> str | None:
    """Why the app cannot start its engine in ``mode`` here; None when it can."""
    if mode is EngineMode.VM:
        return None
    if system != "Linux":
        return LINUX_ONLY.format(mode=mode.value)
    if mode is EngineMode.NATIVE and euid != 0:
        return NOT_ROOT
    if mode is EngineMode.ROOTLESS and euid == 0:
        return ROOTLESS_AS_ROOT
    return None


def user_runtime_dir(system: str, environ: Mapping[str, str]) -> Path:
    """The user's private runtime directory: ``$XDG_RUNTIME_DIR`` (what the rootless engine
    uses), else platformdirs' choice for the platform."""
    value = environ.get("XDG_RUNTIME_DIR", "")
    if system == "Linux" and value.startswith("/"):
        return Path(value)
    import platformdirs  # only where there is no XDG_RUNTIME_DIR: saves the import

    return Path(platformdirs.user_runtime_dir())


def default_local_host(system: str, euid: int, environ: Mapping[str, str]) -> str:
    """The local engine's socket when neither Settings nor ``$DOCKER_HOST`` names one: the
    system's for root, else ``<runtime dir>/doca/doca.sock``. It does not depend on the mode,
    so a mode change applies at the next engine start without moving the socket; for a user on
    Linux it is exactly where ``doca-engine --rootless`` listens by default."""
    if system == "Linux" and euid == 0:
        return DEFAULT_HOST
    return f"unix://{user_runtime_dir(system, environ) / 'doca' / SOCKET_NAME}"
