"""Turning a ``POST /containers/create`` body into a container's settings: type checks, dockerd's
validation messages, and the merge with the image's config."""

from __future__ import annotations

import os
from typing import Any

from engine.errors import Conflict, InvalidParameter

INT_FIELDS = (
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "PidsLimit",
    "ShmSize",
    "BlkioWeight",
    "OomScoreAdj",
)
LIST_FIELDS = (
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "Binds",
    "Tmpfs",
    "Devices",
    "Ulimits",
    "Mounts",
    "VolumesFrom",
)
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
MIN_MEMORY = 6 * 1024 * 1024


def _type_error(section: str, key: str, expected: str, value: Any) -> InvalidParameter:
    got = type(value).__name__.replace("str", "string").replace("dict", "object")
    return InvalidParameter(
        f"json: cannot unmarshal {got} into Go struct field {section}.{key} of type {expected}"
    )


def check_types(config: dict[str, Any], host: dict[str, Any]) -> None:
    for key in ("Cmd", "Entrypoint", "Env"):
        value = config.get(key)
        is_strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        # Cmd and Entrypoint may also be a single string, as older clients send them.
        if value is not None and not is_strings and not (key != "Env" and isinstance(value, str)):
            raise _type_error("ContainerConfigWrapper", key, "[]string", value)
    for key in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"):
        if key in config and config[key] is not None and not isinstance(config[key], bool):
            raise _type_error("ContainerConfigWrapper", key, "bool", config[key])
    for key in ("Labels",):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise _type_error("ContainerConfigWrapper", key, "map[string]string", config[key])
    for key in INT_FIELDS:
        value = host.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _type_error("HostConfig", key, "int64", value)
    for key in LIST_FIELDS:
        value = host.get(key)
        if value is not None and not isinstance(value, list):
            raise _type_error("HostConfig", key, "[]string", value)
    for key in ("Privileged", "ReadonlyRootfs", "AutoRemove", "Init", "PublishAllPorts"):
        value = host.get(key)
        if value is not None and not isinstance(value, bool):
            raise _type_error("HostConfig", key, "bool", value)


def validate_host_config(host: dict[str, Any]) -> None:
    memory = host.get("Memory") or 0
    swap = host.get("MemorySwap") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if swap > 0 and memory and swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap > 0 and not memory:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit")
    nano = host.get("NanoCpus") or 0
    ncpu = os.cpu_count() or 1
    if nano and (nano < 10_000_000 or nano > ncpu * 1_000_000_000):
        raise InvalidParameter(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    if nano and (host.get("CpuQuota") or host.get("CpuPeriod")):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    policy = host.get("RestartPolicy") or {}
    if not isinstance(policy, dict):
        raise _type_error("HostConfig", "RestartPolicy", "container.RestartPolicy", policy)
    name = policy.get("Name") or ""
    retries = policy.get("MaximumRetryCount") or 0
    if name not in RESTART_POLICIES:
        raise InvalidParameter(f"invalid restart policy '{name}'")
    if retries and name != "on-failure":
        raise InvalidParameter(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    if retries < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if host.get("AutoRemove") and name not in ("", "no"):
        raise Conflict("conflicting options: cannot specify both --restart and --rm")
    pids = host.get("PidsLimit")
    if pids is not None and pids < -1:
        raise InvalidParameter("invalid PidsLimit")


def _merge_env(image_env: list[str], env: list[str]) -> list[str]:
    merged: dict[str, str] = {}
    for entry in [*image_env, *env]:
        key = entry.partition("=")[0]
        merged[key] = entry
    return list(merged.values())


def merge_with_image(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """dockerd's merge: what the user gave wins; the image fills in the rest."""
    merged = dict(config)
    for key in ("Cmd", "Entrypoint"):
        if isinstance(merged.get(key), str):
            merged[key] = [merged[key]]
    merged["Env"] = _merge_env(image.get("Env") or [], config.get("Env") or [])
    if not config.get("Entrypoint"):
        merged["Entrypoint"] = image.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    if config.get("Entrypoint") == [""]:
        merged["Entrypoint"] = None
    for key in ("WorkingDir", "User", "StopSignal", "Healthcheck", "OnBuild", "Shell"):
        if not config.get(key) and image.get(key):
            merged[key] = image[key]
    for key in ("Labels", "ExposedPorts", "Volumes"):
        combined = {**(image.get(key) or {}), **(config.get(key) or {})}
        merged[key] = combined or None
    return merged


def command_of(config: dict[str, Any]) -> list[str]:
    command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not command:
        raise InvalidParameter("no command specified")
    return command
