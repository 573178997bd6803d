"""``Settings``: what the user chose on the Settings page, kept as a small JSON file
(``$XDG_CONFIG_HOME/doca/desktop.json``), and how it combines with the command line when the
app starts. The engine's mode and the VM's size take effect at the next engine start; the
socket and data root at the app's next start; "start at login" at once, as the autostart
entry's presence. Qt-free; reading and writing block, so they run in a thread."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from desktop_app.state.autostart import ENTRY_NAME, autostart_enabled, set_autostart
from desktop_app.state.engine_mode import EngineMode, default_mode, parse_mode
from doca.client.transport import DEFAULT_HOST
from engine_vm.options import VMOptions, default_shares, parse_size

DEFAULT_DATA_ROOT = "/var/lib/doca"
DEFAULT_VM_CPUS = 2
DEFAULT_VM_MEMORY = "2g"
DEFAULT_VM_DISK = "20g"


class SettingsError(Exception):
    """A settings file that cannot be read or written, or values that cannot be used."""


@dataclass(frozen=True)
class Settings:
    engine_host: str = ""  # "": $DOCKER_HOST, else the default socket
    data_root: str = ""  # "": DEFAULT_DATA_ROOT
    start_engine: bool = True  # start doca-engine when none answers (else only connect)
    start_at_login: bool = False
    # The engine chosen in the Engines dialog (a docker context's host); "" is the local one.
    active_host: str = ""
    # Public keys (PEM files, comma-separated) whose signatures mark images as signed.
    trust_keys: str = ""
    engine_mode: str = ""  # "": the platform's default (see engine_mode.default_mode)
    vm_cpus: int = DEFAULT_VM_CPUS
    vm_memory: str = DEFAULT_VM_MEMORY  # as docker's --memory reads it: 512m, 2g
    vm_disk: str = DEFAULT_VM_DISK  # the data disk's size (grown, never shrunk)

    def problems(self) -> list[str]:
        """What keeps these settings from being used; empty when they are fine."""
        found = []
        if self.engine_host:
            url = urlsplit(self.engine_host)
            if url.scheme == "unix" and not url.path.startswith("/"):
                found.append("the engine socket must be an absolute path: unix:///run/x.sock")
            elif url.scheme in ("tcp", "http") and not url.netloc:
                found.append("the engine address needs a host and port: tcp://host:2375")
            elif url.scheme not in ("unix", "tcp", "http"):
                found.append("the engine is reached at unix:///path or tcp://host:port")
        if self.data_root and not os.path.isabs(self.data_root):
            found.append("the data root must be an absolute path")
        if self.engine_mode:
            try:
                parse_mode(self.engine_mode)
            except ValueError as exc:
                found.append(str(exc))
        try:
            self.vm_options(shares=())
        except ValueError as exc:
            found.append(f"VM: {exc}")
        return found

    def mode(self, system: str, euid: int) -> EngineMode:
        """The mode chosen, else the platform's default (also for a value this version does
        not know: a newer app's file still starts an engine)."""
        try:
            return parse_mode(self.engine_mode) if self.engine_mode else default_mode(system, euid)
        except ValueError:
            return default_mode(system, euid)

    def vm_options(self, shares: tuple[str, ...] | None = None) -> VMOptions:
        """The VM's options; ValueError (in the VM options' words) for unusable values."""
        return VMOptions(
            cpus=self.vm_cpus,
            memory=parse_size(self.vm_memory),
            disk=parse_size(self.vm_disk),
            shares=default_shares() if shares is None else shares,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        """Known keys of the right type; anything else keeps its default (a file written by
        another version of the app still loads)."""
        defaults = cls()
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = data.get(item.name)
            if isinstance(value, type(getattr(defaults, item.name))):
                values[item.name] = value
        return cls(**values)

    def effective_host(self, environ: Mapping[str, str], default: str = DEFAULT_HOST) -> str:
        """The local engine: the one the app starts, or connects to, when none was chosen
        (``default``: see ``engine_mode.default_local_host``)."""
        return self.engine_host or environ.get("DOCKER_HOST") or default

    def key_paths(self) -> list[Path]:
        return [Path(p.strip()).expanduser() for p in self.trust_keys.split(",") if p.strip()]

    def effective_data_root(self) -> Path:
        return Path(self.data_root or DEFAULT_DATA_ROOT)


def config_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME``, or ``~/.config`` when it is unset or relative (as the spec says)."""
    value = environ.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(value):
        return Path(value)
    return Path(environ.get("HOME") or os.path.expanduser("~")) / ".config"


@dataclass(frozen=True)
class SettingsFiles:
    settings: Path
    autostart: Path

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SettingsFiles:
        home = config_home(os.environ if environ is None else environ)
        return cls(home / "doca" / "desktop.json", home / "autostart" / ENTRY_NAME)

    def load(self) -> Settings:
        """The saved settings (defaults when nothing was saved); "start at login" is whether
        the autostart entry exists, whoever made it."""
        try:
            data = json.loads(self.settings.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read {self.settings}: {exc}") from exc
        if not isinstance(data, dict):
            raise SettingsError(f"cannot read {self.settings}: not a JSON object")
        data["start_at_login"] = autostart_enabled(self.autostart)
        return Settings.from_json(data)

    def save(self, settings: Settings, launch: Sequence[str]) -> None:
        """Write the settings (temp file, then rename) and write or remove the autostart
        entry, which runs ``launch``."""
        problems = settings.problems()
        if problems:
            raise SettingsError("; ".join(problems))
        try:
            self.settings.parent.mkdir(parents=True, exist_ok=True)
            temp = self.settings.with_name(f".{self.settings.name}.tmp")
            temp.write_text(json.dumps(settings.to_json(), indent=2) + "\n", encoding="utf-8")
            os.replace(temp, self.settings)
            set_autostart(self.autostart, launch if settings.start_at_login else None)
        except OSError as exc:
            raise SettingsError(f"cannot save the settings: {exc}") from exc


def load_or_defaults(files: SettingsFiles) -> tuple[Settings, str | None]:
    """The saved settings, or the defaults and why the saved ones could not be read (an app
    must start even with a broken settings file)."""
    try:
        return files.load(), None
    except SettingsError as exc:
        return Settings(), str(exc)
