"""A compose service as the Engine API's ContainerCreate body, and top-level networks and
volumes as NetworkCreate / VolumeCreate bodies, with Compose v2's names and labels. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doca.compose import labels as L
from doca.compose.durations import parse_duration
from doca.compose.file_objects import bind_mounts
from doca.compose.project import Project
from doca.compose.service_hash import service_hash
from doca.compose.translate_runtime import network_mode, runtime_host_config


def container_labels(
    project: Project, name: str, number: int, image_id: str, version: str
) -> dict[str, str]:
    service = project.services[name]
    depends = ",".join(
        f"{dep}:{cond['condition']}:{str(bool(cond.get('restart'))).lower()}"
        for dep, cond in sorted((service.get("depends_on") or {}).items())
    )
    return {
        **(service.get("labels") or {}),
        L.CONFIG_HASH: service_hash(service),
        L.NUMBER: str(number),
        L.DEPENDS_ON: depends,
        L.IMAGE: image_id,
        L.ONEOFF: "False",
        L.PROJECT: project.name,
        L.CONFIG_FILES: ",".join(str(path) for path in project.config_files),
        L.WORKING_DIR: str(project.working_dir),
        L.SERVICE: name,
        L.VERSION: version,
    }


def container_config(
    project: Project,
    name: str,
    number: int,
    image_id: str,
    version: str,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """ContainerCreate's body for replica ``number`` of service ``name``."""
    service = project.services[name]
    config: dict[str, Any] = {
        "Image": project.image_name(name),
        "Labels": container_labels(project, name, number, image_id, version),
        "Env": _env(service.get("environment") or {}, environ),
        "ExposedPorts": _exposed(service),
        "Tty": bool(service.get("tty")),
        "OpenStdin": bool(service.get("stdin_open")),
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
    }
    if service.get("command") is not None:
        config["Cmd"] = service["command"]
    if service.get("entrypoint") is not None:
        config["Entrypoint"] = service["entrypoint"]
    for key, field in (("user", "User"), ("working_dir", "WorkingDir"),
                       ("hostname", "Hostname"), ("domainname", "Domainname"),
                       ("stop_signal", "StopSignal")):  # fmt: skip
        if service.get(key):
            config[field] = service[key]
    if "stop_grace_period" in service:
        config["StopTimeout"] = parse_duration(service["stop_grace_period"]) // 10**9
    if "healthcheck" in service:
        config["Healthcheck"] = _healthcheck(service["healthcheck"])
    config["HostConfig"] = _host_config(project, service)
    endpoints = {} if service.get("network_mode") else _endpoints(project, name, number)
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return config


def _env(environment: Mapping[str, str | None], environ: Mapping[str, str]) -> list[str]:
    """``KEY`` without a value takes the value Compose's process has, or is left out."""
    out = []
    for key, value in environment.items():
        if value is None:
            value = environ.get(key)
            if value is None:
                continue
        out.append(f"{key}={value}")
    return out


def _exposed(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    exposed: dict[str, dict[str, Any]] = {
        f"{p['target']}/{p['protocol']}": {} for p in service.get("ports") or []
    }
    for entry in service.get("expose") or []:
        port, _, protocol = entry.partition("/")
        exposed[f"{port}/{protocol or 'tcp'}"] = {}
    return exposed


def _healthcheck(check: Mapping[str, Any]) -> dict[str, Any]:
    if check.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    if "test" in check:
        out["Test"] = check["test"]
    durations = (("interval", "Interval"), ("timeout", "Timeout"),
                 ("start_period", "StartPeriod"), ("start_interval", "StartInterval"))  # fmt: skip
    for key, field in durations:
        if key in check:
            out[field] = parse_duration(check[key])
    if "retries" in check:
        out["Retries"] = check["retries"]
    return out


def _host_config(project: Project, service: Mapping[str, Any]) -> dict[str, Any]:
    mounts = [_mount(project, volume) for volume in service.get("volumes") or []]
    mounts += bind_mounts("secrets", service.get("secrets") or [], project.secrets)
    mounts += bind_mounts("configs", service.get("configs") or [], project.configs)
    host: dict[str, Any] = {
        "Mounts": mounts,
        "PortBindings": _port_bindings(service.get("ports") or []),
        "Init": service.get("init"),
        "Privileged": bool(service.get("privileged")),
        "CapAdd": _capabilities(service.get("cap_add")),
        "CapDrop": _capabilities(service.get("cap_drop")),
        "Dns": service.get("dns") or None,
        "ExtraHosts": [entry.replace("=", ":", 1) for entry in service.get("extra_hosts") or []],
        "NetworkMode": _primary_network(project, service),
        **runtime_host_config(service),
    }
    restart = service.get("restart", "no")
    policy, _, retries = restart.partition(":")
    host["RestartPolicy"] = {"Name": "" if policy == "no" else policy,
                             "MaximumRetryCount": int(retries or 0)}  # fmt: skip
    return host


def _capabilities(names: list[str] | None) -> list[str] | None:
    """Capability names as Compose sends them: upper case with the ``CAP_`` prefix."""
    if not names:
        return None
    upper = (name.upper() for name in names)
    return [n if n == "ALL" or n.startswith("CAP_") else f"CAP_{n}" for n in upper]


def _mount(project: Project, volume: Mapping[str, Any]) -> dict[str, Any]:
    mount: dict[str, Any] = {"Type": volume["type"], "Target": volume["target"]}
    source = volume.get("source")
    if volume["type"] == "volume" and source:
        source = project.volumes[source]["name"]
    if source:
        mount["Source"] = source
    if volume.get("read_only"):
        mount["ReadOnly"] = True
    bind = volume.get("bind") or {}
    if volume["type"] == "bind":
        mount["BindOptions"] = {"CreateMountpoint": bool(bind.get("create_host_path"))}
        if bind.get("propagation"):
            mount["BindOptions"]["Propagation"] = bind["propagation"]
    if volume["type"] == "volume" and (volume.get("volume") or {}).get("nocopy"):
        mount["VolumeOptions"] = {"NoCopy": True}
    if volume["type"] == "tmpfs" and volume.get("tmpfs"):
        tmpfs = volume["tmpfs"]
        mount["TmpfsOptions"] = {k: v for k, v in
                                 (("SizeBytes", tmpfs.get("size")), ("Mode", tmpfs.get("mode")))
                                 if v is not None}  # fmt: skip
    return mount


def _port_bindings(ports: list[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        bindings.setdefault(f"{port['target']}/{port['protocol']}", []).append(
            {"HostIp": port.get("host_ip", ""), "HostPort": port.get("published", "")}
        )
    return bindings


def _primary_network(project: Project, service: Mapping[str, Any]) -> str:
    containers = {name: project.container_name(name, 1) for name in project.services}
    mode = network_mode(service, containers)
    if mode:
        return mode
    networks = list(service.get("networks") or {})
    return project.networks[networks[0]]["name"] if networks else "none"


def _endpoints(project: Project, name: str, number: int) -> dict[str, Any]:
    """Every network of the service, with the aliases Compose v2 gives: the container name,
    the service name, then the configured aliases."""
    container = project.container_name(name, number)
    endpoints = {}
    for key, config in (project.services[name].get("networks") or {}).items():
        config = config or {}
        endpoint: dict[str, Any] = {"Aliases": [container, name, *(config.get("aliases") or [])]}
        if config.get("ipv4_address") or config.get("ipv6_address"):
            endpoint["IPAMConfig"] = {
                k: v for k, v in (("IPv4Address", config.get("ipv4_address")),
                                  ("IPv6Address", config.get("ipv6_address"))) if v
            }  # fmt: skip
        endpoints[project.networks[key]["name"]] = endpoint
    return endpoints


def network_config(project: Project, key: str, version: str) -> dict[str, Any]:
    """NetworkCreate's options (all but Name) for top-level network ``key``."""
    network = project.networks[key]
    config: dict[str, Any] = {
        "Driver": network.get("driver") or "bridge",
        "Internal": bool(network.get("internal")),
        "Attachable": bool(network.get("attachable")),
        "Options": network.get("driver_opts") or {},
        "Labels": {
            **(network.get("labels") or {}),
            L.NETWORK: key,
            L.PROJECT: project.name,
            L.VERSION: version,
        },
    }
    if network.get("enable_ipv6") is not None:
        config["EnableIPv6"] = network["enable_ipv6"]
    ipam = network.get("ipam") or {}
    if ipam:
        config["IPAM"] = {
            "Driver": ipam.get("driver") or "default",
            "Config": [{{"subnet": "Subnet", "ip_range": "IPRange", "gateway": "Gateway"}[k]: v
                        for k, v in pool.items()} for pool in ipam.get("config") or []],
        }  # fmt: skip
    return config


def volume_labels(project: Project, key: str, version: str) -> dict[str, str]:
    volume = project.volumes[key]
    return {**(volume.get("labels") or {}), L.VOLUME: key, L.PROJECT: project.name,
            L.VERSION: version}  # fmt: skip
