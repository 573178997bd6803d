"""The packaged resources agree with the engine: the default config file is the engine's
defaults, and the units start it the way its flags and socket expect."""

from __future__ import annotations

import configparser
from dataclasses import replace
from pathlib import Path

from engine.config import EngineConfig, load_config
from engine.paths import DEFAULT_SOCKET

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def _unit(name: str) -> configparser.ConfigParser:
    # systemd units are ini files; strict=False because keys may repeat in them.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((RESOURCES / "systemd" / name).read_text())
    return parser


def test_daemon_json_holds_the_engine_defaults() -> None:
    path = RESOURCES / "config" / "daemon.json"
    # The service passes -H fd:// as a flag, so the file must not set the hosts too.
    config = load_config(["--config-file", str(path), "-H", "fd://"])
    assert config == replace(EngineConfig(), hosts=["fd://"], config_file=path)


def test_service_is_socket_activated_with_the_config_file() -> None:
    service = _unit("doca.service")
    assert service["Service"]["ExecStart"].split() == [
        "/usr/bin/doca-engine",
        "-H",
        "fd://",
        "--config-file",
        "/etc/doca/daemon.json",
    ]
    assert service["Service"]["Type"] in ("simple", "exec")
    assert service["Unit"]["Requires"] == "doca.socket"
    assert "doca.socket" in service["Unit"]["After"].split()
    # Containers run under conmon in the unit's cgroup: they must outlive the engine.
    assert (service["Service"]["Delegate"], service["Service"]["KillMode"]) == ("yes", "process")


def test_socket_is_the_engines_default_socket() -> None:
    socket = _unit("doca.socket")["Socket"]
    assert f"unix://{socket['ListenStream']}" == DEFAULT_SOCKET
    assert (socket["SocketMode"], socket["SocketUser"]) == ("0660", "root")
    assert socket["SocketGroup"] == EngineConfig().group


def test_sysusers_creates_the_socket_group() -> None:
    lines = (RESOURCES / "systemd" / "doca.sysusers").read_text().splitlines()
    entries = [line.split() for line in lines if line and not line.startswith("#")]
    assert entries == [["g", EngineConfig().group, "-"]]


def test_desktop_entry_runs_the_app_with_the_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string((RESOURCES / "doca-desktop.desktop").read_text())
    desktop = entry["Desktop Entry"]
    assert (desktop["Type"], desktop["Exec"], desktop["Icon"]) == (
        "Application",
        "doca-desktop",
        "doca",
    )
    assert (RESOURCES / "icons" / f"{desktop['Icon']}.svg").is_file()
