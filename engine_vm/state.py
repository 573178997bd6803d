"""Where one VM keeps its files: a directory per served socket, holding the data disk (which
lasts), and while the VM runs its settings, pid files, QMP socket, token and logs."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from engine_vm.options import VMOptions


def default_state_dir(socket_path: Path) -> Path:
    """The state directory of the VM that serves ``socket_path``."""
    name = hashlib.sha256(str(socket_path.absolute()).encode()).hexdigest()[:12]
    return Path(platformdirs.user_data_dir("doca")) / "vm" / name


@dataclass(frozen=True)
class Settings:
    """What ``control.start`` hands the service process, and what ``status`` reads back."""

    socket: str
    image: str  # the image directory
    options: dict[str, object]
    accelerator: str

    def vm_options(self) -> VMOptions:
        values = dict(self.options)
        values["shares"] = tuple(values.get("shares", ()))  # type: ignore[arg-type]
        return VMOptions(**values)  # type: ignore[arg-type]

    @classmethod
    def make(cls, socket: Path, image: Path, options: VMOptions, accelerator: str) -> Settings:
        return cls(str(socket), str(image), asdict(options), accelerator)


@dataclass(frozen=True)
class VMState:
    """The files of one VM under ``root``."""

    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "vm.json"

    @property
    def service_pidfile(self) -> Path:
        return self.root / "service.pid"

    @property
    def qemu_pidfile(self) -> Path:
        return self.root / "qemu.pid"

    @property
    def qmp_socket(self) -> Path:
        return self.root / "qmp.sock"

    @property
    def console_log(self) -> Path:
        return self.root / "console.log"

    @property
    def service_log(self) -> Path:
        return self.root / "service.log"

    @property
    def data_disk(self) -> Path:
        return self.root / "data.img"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def link(self) -> Path:
        return self.root / "link.json"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write_settings(self, settings: Settings) -> None:
        _write_private(self.settings, json.dumps(asdict(settings), indent=2) + "\n")

    def read_settings(self) -> Settings:
        return Settings(**json.loads(self.settings.read_text()))

    def write_token(self, token: bytes) -> None:
        _write_private(self.token, token.decode() + "\n")

    def runtime_files(self) -> list[Path]:
        """What a stopped VM leaves behind needlessly (the data disk and logs stay)."""
        return [self.service_pidfile, self.qemu_pidfile, self.qmp_socket, self.token, self.link]


def _write_private(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temp, path)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "0") or None
    except (FileNotFoundError, ValueError):
        return None
