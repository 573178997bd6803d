"""The ContainerCreate body for the flags of `run` and `create`, built as the docker CLI builds
it (cli/command/container/opts.go), so that the engine stores the same container for the same
command line. Pure but for reading the env, label and seccomp files the flags name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from doca.cli import container_keyvalues as kv
from doca.cli import container_limits as limits
from doca.cli.container_mounts import apply_volumes, parse_mount, parse_tmpfs
from doca.cli.container_networking import networking
from doca.cli.publish import apply_publish
from doca.cli.run_flags import FlagError, flag_value, invalid_argument

_HEALTH_DURATIONS = ("interval", "timeout", "start_period", "start_interval")


def create_config(image: str, command: Sequence[str], env: Sequence[str]) -> dict[str, Any]:
    """The smallest ContainerCreate body: IMAGE [CMD...] with its environment."""
    return {
        "Image": image,
        "Cmd": list(command) or None,
        "Env": list(env),
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": {},
    }


def _checked(dest: str, values: Sequence[str], check: Any) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(check(value))
        except ValueError as error:
            raise invalid_argument(value, dest, error) from None
    return out


def _attach_streams(values: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    def stream(text: str) -> str:
        if text.lower() not in ("stdin", "stdout", "stderr"):
            raise ValueError("valid streams are STDIN, STDOUT and STDERR")
        return text.lower()

    streams = _checked("attach", values.get("attach") or (), stream)
    stdin = "stdin" in streams or bool(values.get("interactive"))
    return stdin, "stdout" in streams or not streams, "stderr" in streams or not streams


def _published(specs: Sequence[str]) -> list[str]:
    """``-p`` values, the long syntax (``published=8080,target=80``) turned into the short."""
    out = []
    for spec in specs:
        if "=" not in spec:
            out.append(spec)
            continue
        params = {"protocol": "tcp"}
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise FlagError(
                    f"invalid publish opts format (should be name=value but got '{part}')"
                )
            params[key] = value
        out.append(f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}")
    return out


def _expose(config: dict[str, Any], specs: Sequence[str]) -> None:
    exposed = config.setdefault("ExposedPorts", {})
    for spec in specs:
        if ":" in spec:
            raise FlagError(f"invalid port format for --expose: {spec}")
        port, _, proto = spec.partition("/")
        low, sep, high = port.partition("-")
        try:
            first, last = int(low), int(high if sep else low)
            if not 0 <= first <= last <= 65535:
                raise ValueError(port)
        except ValueError:
            raise FlagError(
                f"invalid range format for --expose: {spec}, error: invalid port range: {port}"
            ) from None
        for number in range(first, last + 1):
            exposed.setdefault(f"{number}/{proto or 'tcp'}", {})


def _healthcheck(values: Mapping[str, Any]) -> dict[str, Any] | None:
    durations = {
        name: flag_value(values, f"health_{name}", limits.parse_duration) or 0
        for name in _HEALTH_DURATIONS
    }
    retries = flag_value(values, "health_retries", limits.parse_int) or 0
    command = values.get("health_cmd") or ""
    wanted = bool(command) or retries != 0 or any(durations.values())
    if values.get("no_healthcheck"):
        if wanted:
            raise FlagError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not wanted:
        return None
    for name, value in [*durations.items(), ("retries", retries)]:
        if value < 0:
            raise FlagError(f"--health-{name.replace('_', '-')} cannot be negative")
    check: dict[str, Any] = {"Test": ["CMD-SHELL", command]} if command else {}
    for name, key in zip(
        _HEALTH_DURATIONS, ("Interval", "Timeout", "StartPeriod", "StartInterval"), strict=True
    ):
        if durations[name]:
            check[key] = durations[name]
    if retries:
        check["Retries"] = retries
    return check


_NAMESPACE_MODES = {
    "pid": ("--pid: invalid PID mode", ("host",)),
    "uts": ("--uts: invalid UTS mode", ("host",)),
    "userns": ("--userns: invalid USER mode", ("host",)),
    "cgroupns": ("--cgroupns: invalid CGROUP mode", ("host", "private")),
}


def _pairs(values: Sequence[str]) -> dict[str, str]:
    return {key: value for key, _, value in (item.partition("=") for item in values)}


def _namespace_modes(values: Mapping[str, Any]) -> dict[str, str]:
    modes = {}
    for dest, (message, names) in _NAMESPACE_MODES.items():
        mode = str(values.get(dest) or "")
        if mode and mode not in names and not (dest == "pid" and mode.startswith("container:")):
            raise FlagError(message)
        modes[dest] = mode
    return modes


def _plain(check: Any, value: Any) -> Any:
    """``check(value)`` with its ValueError as a FlagError of the same words."""
    try:
        return check(value)
    except ValueError as error:
        raise FlagError(str(error)) from None


def _resources(values: Mapping[str, Any]) -> dict[str, Any]:
    """The Resources part of HostConfig, every key the docker CLI sends."""

    def number(dest: str, parse: Any = limits.parse_int, default: int = 0) -> int:
        found = flag_value(values, dest, parse)
        return default if found is None else int(found)

    swappiness = number("memory_swappiness", default=-1)
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise FlagError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")
    ulimits: dict[str, dict[str, Any]] = {}
    for text in values.get("ulimit") or ():
        try:
            ulimit = limits.parse_ulimit(text)
        except ValueError as error:
            raise invalid_argument(text, "ulimit", error) from None
        ulimits[ulimit["Name"]] = ulimit
    return {
        "BlkioDeviceReadBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceWriteIOps": [], "BlkioWeight": number("blkio_weight"),
        "BlkioWeightDevice": [], "CgroupParent": values.get("cgroup_parent") or "",
        "CpuCount": 0, "CpuPercent": 0, "CpuPeriod": number("cpu_period"),
        "CpuQuota": number("cpu_quota"), "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpuShares": number("cpu_shares"), "CpusetCpus": values.get("cpuset_cpus") or "",
        "CpusetMems": values.get("cpuset_mems") or "",
        "DeviceCgroupRules": _checked(
            "device_cgroup_rule", values.get("device_cgroup_rule") or (), kv.validate_device_rule
        ) or None,
        "DeviceRequests": None,
        "Devices": [_plain(limits.parse_device, d) for d in values.get("device") or ()],
        "IOMaximumBandwidth": 0, "IOMaximumIOps": 0,
        "Memory": number("memory", limits.parse_memory),
        "MemoryReservation": number("memory_reservation", limits.parse_memory),
        "MemorySwap": number("memory_swap", limits.parse_memory_swap),
        "MemorySwappiness": swappiness, "NanoCpus": number("cpus", limits.parse_cpus),
        "OomKillDisable": bool(values.get("oom_kill_disable")),
        "PidsLimit": number("pids_limit"),
        "Ulimits": [ulimits[name] for name in sorted(ulimits)],
    }  # fmt: skip


def _host_config(values: Mapping[str, Any], console_size: tuple[int, int]) -> dict[str, Any]:
    """HostConfig but for binds, ports, mounts and networks, every key the docker CLI sends."""
    modes = _namespace_modes(values)
    restart = _plain(limits.parse_restart_policy, values.get("restart") or "")
    log_options = _pairs(values.get("log_opt") or ())
    if values.get("log_driver") == "none" and log_options:
        raise FlagError("invalid logging opts for driver none")
    security, unconfined = _plain(kv.security_options, values.get("security_opt") or ())
    if any("=" not in option for option in values.get("storage_opt") or ()):
        raise FlagError("invalid storage option")
    host: dict[str, Any] = {
        "AutoRemove": bool(values.get("rm")), "Binds": None,
        "CapAdd": kv.capabilities(values.get("cap_add") or ()),
        "CapDrop": kv.capabilities(values.get("cap_drop") or ()),
        "Cgroup": "", "CgroupnsMode": modes["cgroupns"], "ConsoleSize": list(console_size),
        "ContainerIDFile": values.get("cidfile") or "",
        "Dns": _checked("dns", values.get("dns") or (), kv.validate_ip),
        "DnsOptions": list(values.get("dns_option") or ()),
        "DnsSearch": _checked("dns_search", values.get("dns_search") or (), kv.validate_dns_search),
        "ExtraHosts": _checked("add_host", values.get("add_host") or (), kv.validate_extra_host)
        or None,
        "GroupAdd": list(values.get("group_add") or ()) or None,
        "IpcMode": values.get("ipc") or "", "Isolation": values.get("isolation") or "",
        "Links": list(values.get("link") or ()) or None,
        "LogConfig": {"Config": log_options, "Type": values.get("log_driver") or ""},
        "MaskedPaths": [] if unconfined else None,
        "OomScoreAdj": flag_value(values, "oom_score_adj", limits.parse_int) or 0,
        "PidMode": modes["pid"], "PortBindings": {},
        "Privileged": bool(values.get("privileged")),
        "PublishAllPorts": bool(values.get("publish_all")),
        "ReadonlyPaths": [] if unconfined else None,
        "ReadonlyRootfs": bool(values.get("read_only")), "RestartPolicy": restart,
        "SecurityOpt": security or None,
        "ShmSize": flag_value(values, "shm_size", limits.parse_memory) or 0,
        "UTSMode": modes["uts"], "UsernsMode": modes["userns"],
        "VolumeDriver": values.get("volume_driver") or "",
        "VolumesFrom": list(values.get("volumes_from") or ()) or None,
        **_resources(values),
    }  # fmt: skip
    optional = {
        "Annotations": _pairs(values.get("annotation") or ()),
        "Runtime": values.get("runtime") or "",
        "StorageOpt": _pairs(values.get("storage_opt") or ()),
        "Sysctls": _pairs(_checked("sysctl", values.get("sysctl") or (), kv.validate_sysctl)),
        "Tmpfs": parse_tmpfs(list(values.get("tmpfs") or ())),
    }
    host.update({key: value for key, value in optional.items() if value})
    if values.get("init") is not None:
        host["Init"] = bool(values["init"])
    if values.get("rm") and restart.get("Name") not in (None, "", "no"):
        raise FlagError("conflicting options: cannot specify both --restart and --rm")
    return host


def create_body(
    values: Mapping[str, Any],
    image: str,
    command: Sequence[str],
    environ: Mapping[str, str],
    console_size: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """The ContainerCreate body for the flag ``values`` (as the click command received them),
    ``IMAGE [COMMAND...]``; FlagError for flags the docker CLI refuses."""
    stdin, stdout, stderr = _attach_streams(values)
    if values.get("mac_address"):
        _plain(kv.validate_mac, values["mac_address"])
    config = create_config(image, command, ())
    config["HostConfig"] = host = _host_config(values, console_size)
    _plain(lambda specs: apply_volumes(config, specs), list(values.get("volume") or ()))
    entrypoint = values.get("entrypoint")
    try:
        apply_publish(config, tuple(_published(values.get("publish") or ())), False)
    except click.BadParameter as error:
        raise FlagError(error.message) from None
    _expose(config, values.get("expose") or ())
    mounts = []
    for text in values.get("mount") or ():
        try:
            mounts.append(parse_mount(text))
        except ValueError as error:
            raise invalid_argument(text, "mount", error) from None
    if mounts:
        host["Mounts"] = mounts
    try:
        env = kv.read_env(values.get("env_file") or (), values.get("env") or (), environ)
        labels = kv.read_labels(values.get("label_file") or (), values.get("label") or ())
    except ValueError as error:
        raise FlagError(str(error)) from None
    config.update({
        "AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr,
        "Domainname": values.get("domainname") or "",
        "Entrypoint": None if entrypoint is None else [entrypoint],
        "Env": env or None, "Hostname": values.get("hostname") or "", "Labels": labels,
        "OnBuild": None, "OpenStdin": bool(values.get("interactive")),
        "StdinOnce": bool(values.get("interactive")) and stdin,
        "Tty": bool(values.get("tty")), "User": values.get("user") or "",
        "Volumes": config.get("Volumes") or {}, "WorkingDir": values.get("workdir") or "",
    })  # fmt: skip
    health = _healthcheck(values)
    if health is not None:
        config["Healthcheck"] = health
    if values.get("stop_signal"):
        config["StopSignal"] = values["stop_signal"]
    stop_timeout = flag_value(values, "stop_timeout", limits.parse_int)
    if stop_timeout is not None:
        config["StopTimeout"] = stop_timeout
    host["NetworkMode"], endpoints = networking(values)
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return config
