"""Turning a ``POST /containers/create`` body into a container's settings: type checks, dockerd's
validation messages, and the merge with the image's config."""

from __future__ import annotations

import os
from typing import Any

from engine.containers.etc_files import validate_extra_hosts
from engine.errors import InvalidParameter

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
# HostConfig list fields and the Go type dockerd decodes them into.
LIST_FIELDS = {
    "CapAdd": "strslice.StrSlice",
    "CapDrop": "strslice.StrSlice",
    "SecurityOpt": "[]string",
    "Dns": "[]string",
    "DnsOptions": "[]string",
    "DnsSearch": "[]string",
    "ExtraHosts": "[]string",
    "GroupAdd": "[]string",
    "Binds": "[]string",
    "VolumesFrom": "[]string",
    "Devices": "[]container.DeviceMapping",
    "Ulimits": "[]*units.Ulimit",
    "Mounts": "[]mount.Mount",
}
MAP_FIELDS = ("Tmpfs", "StorageOpt", "Sysctls")
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
MIN_MEMORY = 6 * 1024 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def json_kind(value: Any) -> str:
    """The name Go's encoding/json gives a JSON value in an UnmarshalTypeError."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(
    section: str, key: str, expected: str, value: Any, kind: str | None = None
) -> InvalidParameter:
    got = kind or json_kind(value)
    return InvalidParameter(
        f"json: cannot unmarshal {got} into Go struct field {section}.{key} of type {expected}"
    )


def _check_int64(section: str, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(section, key, "int64", value)
    if isinstance(value, float) or not INT64_MIN <= value <= INT64_MAX:
        # Go names the number itself when it does not fit the integer type.
        raise _type_error(section, key, "int64", value, f"number {value!r}")


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
    for key, go_type in (
        ("Labels", "map[string]string"),
        ("ExposedPorts", "nat.PortSet"),
        ("Volumes", "map[string]struct {}"),
    ):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise _type_error("ContainerConfigWrapper", key, go_type, config[key])
    for key in INT_FIELDS:
        _check_int64("HostConfig", key, host.get(key))
    for key, go_type in LIST_FIELDS.items():
        value = host.get(key)
        if value is None:
            continue
        if go_type == "strslice.StrSlice" and isinstance(value, str):
            host[key] = [value]  # a StrSlice reads a lone string as a list of one
            continue
        if not isinstance(value, list):
            raise _type_error("HostConfig", key, go_type, value)
        if go_type == "[]string":
            for item in value:
                if not isinstance(item, str):
                    raise _type_error("HostConfig", key, "string", item)
    for key in MAP_FIELDS:
        value = host.get(key)
        if value is not None and not isinstance(value, dict):
            raise _type_error("HostConfig", key, "map[string]string", value)
    for key in ("Privileged", "ReadonlyRootfs", "AutoRemove", "Init", "PublishAllPorts"):
        value = host.get(key)
        if value is not None and not isinstance(value, bool):
            raise _type_error("HostConfig", key, "bool", value)


def validate_host_config(host: dict[str, Any]) -> None:
    """dockerd's checks, in its order: validateHostConfig, then the platform's resources."""
    policy = host.get("RestartPolicy") or {}
    if not isinstance(policy, dict):
        raise _type_error("HostConfig", "RestartPolicy", "container.RestartPolicy", policy)
    name = policy.get("Name") or ""
    if host.get("AutoRemove") and name not in ("", "no"):  # daemon/container.go
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    validate_extra_hosts(host.get("ExtraHosts") or [])
    _validate_restart_policy(name, policy.get("MaximumRetryCount") or 0)
    _validate_resources(host)
    pids = host.get("PidsLimit")
    if pids is not None and pids < -1:
        raise InvalidParameter("invalid PidsLimit")


def _validate_restart_policy(name: str, retries: int) -> None:
    """api/types/container's ValidateRestartPolicy (moby v25+)."""
    if name in ("always", "unless-stopped", "no"):
        if retries != 0:
            message = (
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            )
            if retries < 0:
                message += " and cannot be negative"
            raise InvalidParameter(message)
    elif name == "on-failure":
        if retries < 0:
            raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    elif name != "":
        # An empty name with any count is accepted: dockerd before v25 created such policies.
        raise InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"
        )


def _validate_resources(host: dict[str, Any]) -> None:
    """daemon_unix.go verifyPlatformContainerResources: memory, then CPU."""
    memory = host.get("Memory") or 0
    swap = host.get("MemorySwap") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if memory == 0 and swap > 0:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    nano = host.get("NanoCpus") or 0
    if nano > 0 and (host.get("CpuPeriod") or 0) > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and (host.get("CpuQuota") or 0) > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    ncpu = os.cpu_count() or 1
    # No lower limit, as dockerd: the runtime refuses a quota too small to apply.
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise InvalidParameter(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    for key, what in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if host.get(key):
            _validate_cpuset(str(host[key]), what)
    weight = host.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    if weight and not _blkio_weight_supported():
        host["BlkioWeight"] = 0  # as dockerd: "Weight discarded" where the kernel has none


def _cpu_list(text: str) -> set[int] | None:
    """The CPUs a list like ``0-2,5`` names; None if it is not such a list."""
    found: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            return None
        start, end = int(first), int(last) if dash else int(first)
        if end < start:
            return None
        found.update(range(start, end + 1))
    return found


def _validate_cpuset(text: str, what: str) -> None:
    wanted = _cpu_list(text)
    if wanted is None:
        raise InvalidParameter(f"Invalid value {text} for cpuset {what}")
    online = (
        "/sys/devices/system/cpu/online" if what == "cpus" else "/sys/devices/system/node/online"
    )
    try:
        with open(online) as source:
            available_text = source.read().strip()
    except OSError:
        return
    available = _cpu_list(available_text) or set()
    if not wanted <= available:
        noun = "CPUs" if what == "cpus" else "memory nodes"
        raise InvalidParameter(
            f"Requested {noun} are not available - requested {text}, available: {available_text}"
        )


def _blkio_weight_supported() -> bool:
    return any(
        os.path.exists(path)
        for path in (
            "/sys/fs/cgroup/blkio/blkio.weight",
            "/sys/fs/cgroup/blkio/blkio.bfq.weight",
            "/sys/fs/cgroup/io.weight",
            "/sys/fs/cgroup/io.bfq.weight",
        )
    )


def _merge_env(image_env: list[str], env: list[str]) -> list[str]:
    """daemon/commit.go merge: the user's Env as given, then the image's variables it does not
    set (a bare ``NAME`` sets ``NAME`` too)."""
    if not env:
        return list(image_env)
    keys = {entry.partition("=")[0] for entry in env}
    return [*env, *(entry for entry in image_env if entry.partition("=")[0] not in keys)]


HEALTHCHECK_FIELDS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")


def _merge_healthcheck(user: Any, image: Any) -> Any:
    if not isinstance(image, dict):
        return user
    if not isinstance(user, dict):
        return image
    merged = dict(user)
    for key in HEALTHCHECK_FIELDS:
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    return merged


def merge_with_image(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """dockerd's merge (daemon/commit.go) and mergeAndVerifyConfig: what the user gave wins;
    the image fills in the rest."""
    merged = dict(config)
    for key in ("Cmd", "Entrypoint"):
        if isinstance(merged.get(key), str):
            merged[key] = [merged[key]]
    merged["Env"] = _merge_env(image.get("Env") or [], config.get("Env") or [])
    # An empty Entrypoint takes the image's Cmd when no Cmd is given, but only a null one
    # takes the image's Entrypoint: [] keeps none.
    if not merged.get("Entrypoint"):
        if not merged.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
        if merged.get("Entrypoint") is None:
            merged["Entrypoint"] = image.get("Entrypoint")
    if merged.get("Entrypoint") == [""]:
        merged["Entrypoint"] = None
    if "Healthcheck" in image or "Healthcheck" in config:
        merged["Healthcheck"] = _merge_healthcheck(
            config.get("Healthcheck"), image.get("Healthcheck")
        )
    for key in ("WorkingDir", "User", "StopSignal", "OnBuild", "Shell"):
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
