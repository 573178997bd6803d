"""A container record → the input of the OCI spec builder: the Docker names of HostConfig and
Config mapped onto :class:`SpecInput`, plus what only the host can say (user IDs from the
image's passwd file, device numbers, the runtime's limits)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.containers.host import HostSetup, device_mapping, host_devices
from engine.containers.host_config_view import DEFAULT_SHM_SIZE, default_masked_paths
from engine.containers.model import ContainerRecord
from engine.containers.user import ExecUser
from engine.errors import InvalidParameter
from engine.runtime.oci_mounts import Mount
from engine.runtime.oci_resources import DeviceMapping, Ulimit
from engine.runtime.oci_spec import SpecInput


def _path_list(value: Any) -> tuple[str, ...] | None:
    """A HostConfig path list as given; None (not given) leaves the defaults to the spec."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter("MaskedPaths and ReadonlyPaths must be lists of paths")
    return tuple(value)


def _masked_paths(value: Any) -> tuple[str, ...]:
    """The client's list, else moby's with this host's CPU thermal_throttle directories."""
    given = _path_list(value)
    return given if given is not None else tuple(default_masked_paths())


def _devices(host: dict[str, Any]) -> tuple[DeviceMapping, ...]:
    devices = []
    for device in host.get("Devices") or []:
        source = device.get("PathOnHost", "")
        target = device.get("PathInContainer") or source
        try:
            devices.append(device_mapping(source, target, device.get("CgroupPermissions") or "rwm"))
        except OSError as exc:
            raise InvalidParameter(
                f"error gathering device information while adding custom device "
                f'"{source}": {exc.strerror.lower() if exc.strerror else exc}'
            ) from exc
    return tuple(devices)


def _ulimits(host: dict[str, Any]) -> tuple[Ulimit, ...]:
    return tuple(
        Ulimit(u["Name"], int(u["Soft"]), int(u["Hard"])) for u in host.get("Ulimits") or []
    )


def _security(host: dict[str, Any]) -> tuple[str | None, bool]:
    """(seccomp setting, no-new-privileges) from ``--security-opt``."""
    seccomp: str | None = "default"
    no_new_privileges = False
    for option in host.get("SecurityOpt") or []:
        key, sep, value = option.partition("=" if "=" in option else ":")
        if key == "no-new-privileges":
            no_new_privileges = value.lower() in ("", "true") if sep else True
        elif key == "seccomp":
            seccomp = "unconfined" if value == "unconfined" else value
        elif key in ("apparmor", "label"):
            continue  # no AppArmor or SELinux integration; accepted as dockerd accepts them
        else:
            raise InvalidParameter(f"invalid --security-opt 2: {option!r}")
    return seccomp, no_new_privileges


def resource_fields(host: dict[str, Any]) -> dict[str, Any]:
    """The limits of a HostConfig as SpecInput fields (shared by create and ``docker update``)."""
    return {
        "memory": host.get("Memory") or 0,
        "memory_swap": host.get("MemorySwap") or 0,
        "memory_reservation": host.get("MemoryReservation") or 0,
        "nano_cpus": host.get("NanoCpus") or 0,
        "cpu_shares": host.get("CpuShares") or 0,
        "cpu_quota": host.get("CpuQuota") or 0,
        "cpu_period": host.get("CpuPeriod") or 0,
        "cpuset_cpus": host.get("CpusetCpus") or "",
        "cpuset_mems": host.get("CpusetMems") or "",
        # 0 and absent leave the runtime's default; -1 asks for no limit.
        "pids_limit": host.get("PidsLimit") or None,
        "blkio_weight": host.get("BlkioWeight") or 0,
    }


def network_namespace(host: dict[str, Any], resolve_pid: Any) -> str | None:
    mode = host.get("NetworkMode") or "default"
    if mode == "host":
        return "host"
    if mode.startswith("container:"):
        return f"/proc/{resolve_pid(mode.split(':', 1)[1])}/ns/net"
    return None  # a new namespace: loopback only until the container joins a network


def spec_input(
    record: ContainerRecord,
    rootfs: Path,
    user: ExecUser,
    etc_files: dict[str, Path],
    setup: HostSetup,
    network_ns: str | None,
    user_mounts: list[Mount] | None = None,
) -> SpecInput:
    config = record.config
    host = record.host_config
    seccomp, no_new_privileges = _security(host)
    user_mounts = user_mounts or []
    taken = {m.destination for m in user_mounts}
    # A user's own mount at /etc/hosts (and the like) wins over the engine's file.
    mounts = [
        Mount(target, "bind", str(source), ("rbind", "rprivate"))
        for target, source in etc_files.items()
        if target not in taken
    ] + user_mounts
    env = list(config.get("Env") or [])
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    privileged = bool(host.get("Privileged"))
    return SpecInput(
        rootfs=str(rootfs),
        args=[record.path, *record.args],
        env=env,
        cwd=config.get("WorkingDir") or "/",
        uid=user.uid,
        gid=user.gid,
        additional_gids=user.additional_gids,
        hostname=config.get("Hostname") or record.short_id,
        domainname=config.get("Domainname") or "",
        tty=bool(config.get("Tty")),
        console_size=console_size(host),
        open_stdin=bool(config.get("OpenStdin")),
        cap_add=tuple(host.get("CapAdd") or ()),
        cap_drop=tuple(host.get("CapDrop") or ()),
        privileged=privileged,
        # The client's lists (the docker CLI sends empty ones for systempaths=unconfined);
        # none for a privileged container, as dockerd.
        masked_paths=None if privileged else _masked_paths(host.get("MaskedPaths")),
        readonly_paths=None if privileged else _path_list(host.get("ReadonlyPaths")),
        readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        no_new_privileges=no_new_privileges,
        seccomp=seccomp,
        mounts=tuple(mounts),
        shm_size=host.get("ShmSize") or DEFAULT_SHM_SIZE,
        tmpfs=dict(host.get("Tmpfs") or {}),
        devices=_devices(host),
        host_devices=host_devices() if privileged else (),
        oom_kill_disable=bool(host.get("OomKillDisable")),
        **resource_fields(host),
        ulimits=_ulimits(host),
        default_ulimits=setup.default_ulimits,
        sysctls=dict(host.get("Sysctls") or {}),
        network_ns=network_ns,
        ipc="host" if host.get("IpcMode") == "host" else "private",
        pid_host=host.get("PidMode") == "host",
        uts_host=host.get("UTSMode") == "host",
        cgroups_path=setup.cgroups.container_path(record.id),
        cgroup_version=setup.cgroup_version,
        init_path=setup.init_path if host.get("Init") else None,
        oom_score_adj=host.get("OomScoreAdj") or 0,
        host_arch=setup.arch,
        kernel=setup.kernel,
        engine_caps=setup.engine_caps,
    )


def console_size(host: dict[str, Any]) -> tuple[int, int] | None:
    # Go decodes a shorter array into the [2]uint, the rest staying zero.
    size = [*(host.get("ConsoleSize") or []), 0, 0][:2]
    return (int(size[0]), int(size[1])) if size[0] and size[1] else None


def ensure_workdir(rootfs: Path, workdir: str, user: ExecUser) -> None:
    """Docker creates a missing WorkingDir, owned by the container's user."""
    if not workdir or workdir == "/":
        return
    target = rootfs
    for part in Path(workdir).parts[1:]:
        target = target / part
        if target.is_symlink():
            return  # resolved inside the container by the runtime; never follow it out here
        if not target.exists():
            target.mkdir(mode=0o755)
            os.chown(target, user.uid, user.gid)
