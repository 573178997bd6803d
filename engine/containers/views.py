"""Containers as the Engine API shows them: ``GET /containers/json`` rows and ``inspect``."""

from __future__ import annotations

import shlex
import time
from typing import Any

from engine.containers.host_config_view import host_config_view
from engine.containers.model import ContainerRecord
from engine.containers.networking import network_settings, networks_view, summary_ports
from engine.containers.paths import ContainerPaths
from engine.containers.state import Status
from engine.hostinfo import find_runtimes, host_info
from engine.networks.endpoints import Sandbox
from engine.networks.model import DEFAULT_BRIDGE
from engine.runtime.mounts import storage_driver
from engine.timefmt import parse_rfc3339


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration, which ``docker ps`` shows in its STATUS column."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if int(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def status_text(record: ContainerRecord, now: float | None = None) -> str:
    now = time.time() if now is None else now
    state = record.state
    status = state.status
    if status in (Status.RUNNING, Status.PAUSED):
        text = f"Up {human_duration(now - parse_rfc3339(state.started_at))}"
        if status is Status.PAUSED:
            return text + " (Paused)"
        health = (state.health or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health else text
    if status is Status.RESTARTING:
        ago = human_duration(now - parse_rfc3339(state.finished_at))
        return f"Restarting ({state.exit_code}) {ago} ago"
    if status is Status.REMOVING:
        return "Removal In Progress"
    if status is Status.DEAD:
        return "Dead"
    if status is Status.EXITED or parse_rfc3339(state.finished_at) > 0:
        ago = human_duration(now - parse_rfc3339(state.finished_at))
        return f"Exited ({state.exit_code}) {ago} ago"
    return "Created"


def command_text(record: ContainerRecord) -> str:
    return " ".join(shlex.quote(p) if " " in p else p for p in [record.path, *record.args])


def summary(record: ContainerRecord, sandbox: Sandbox | None = None) -> dict[str, Any]:
    network_mode = record.host_config.get("NetworkMode") or "default"
    if network_mode == "default":
        network_mode = DEFAULT_BRIDGE  # as dockerd stores it since it resolves "default" at create
    return {
        "Id": record.id,
        "Names": [record.name],
        "Image": record.image,
        "ImageID": record.image_id,
        "Command": command_text(record),
        "Created": int(parse_rfc3339(record.created)),
        "Ports": summary_ports(record, sandbox),
        "Labels": record.labels,
        "State": record.state.status.value,
        "Status": status_text(record),
        "HostConfig": {"NetworkMode": network_mode},
        "NetworkSettings": {"Networks": networks_view(record, sandbox)},
        "Mounts": [public_mount(m) for m in record.mounts],
    }


_INTERNAL_MOUNT_KEYS = ("NoCopy", "TmpfsSize", "TmpfsMode")


def public_mount(point: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in point.items() if k not in _INTERNAL_MOUNT_KEYS}


def _state_json(record: ContainerRecord) -> dict[str, Any]:
    state = record.state
    data: dict[str, Any] = {
        "Status": state.status.value,
        "Running": state.status in (Status.RUNNING, Status.PAUSED),
        "Paused": state.status is Status.PAUSED,
        "Restarting": state.status is Status.RESTARTING,
        "OOMKilled": state.oom_killed,
        "Dead": state.status is Status.DEAD,
        "Pid": state.pid,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": state.started_at,
        "FinishedAt": state.finished_at,
    }
    if state.health is not None:
        data["Health"] = state.health
    return data


def inspect(
    record: ContainerRecord,
    paths: ContainerPaths,
    lowerdir: str,
    sandbox: Sandbox | None = None,
    exec_ids: list[str] | None = None,
) -> dict[str, Any]:
    """``docker inspect`` of a container; ``exec_ids`` are its running execs (null when
    none, as dockerd's nil slice)."""
    config = dict(record.config)
    config.setdefault("Hostname", record.short_id)
    for key in ("Domainname", "User", "WorkingDir"):
        config.setdefault(key, "")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        config.setdefault(key, False)
    if not config.get("Hostname"):
        config["Hostname"] = record.short_id
    host_config = host_config_view(
        record.host_config,
        cgroup_version=host_info().cgroup_version,
        runtime=next(iter(find_runtimes()), "runc"),  # what `docker info` calls DefaultRuntime
    )
    return {
        "Id": record.id,
        "Created": record.created,
        "Path": record.path,
        "Args": record.args,
        "State": _state_json(record),
        "Image": record.image_id,
        "ResolvConfPath": str(paths.data / "resolv.conf"),
        "HostnamePath": str(paths.data / "hostname"),
        "HostsPath": str(paths.data / "hosts"),
        "LogPath": str(paths.log),
        "Name": record.name,
        "RestartCount": record.state.restart_count,
        "Driver": storage_driver(),
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        "HostConfig": host_config,
        "GraphDriver": {
            "Name": storage_driver(),
            "Data": {
                "LowerDir": lowerdir,
                "UpperDir": str(paths.upper),
                "WorkDir": str(paths.work),
                "MergedDir": str(paths.rootfs),
            },
        },
        "Mounts": [public_mount(m) for m in record.mounts],
        "Config": config,
        "NetworkSettings": network_settings(record, sandbox),
    }
