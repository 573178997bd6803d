"""One file's service, network and volume definitions brought to Compose's canonical shapes,
with unknown keys and wrong types rejected where they are written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from doca.compose import runtime_shapes, shapes
from doca.compose.build_config import shape_build
from doca.compose.yamlsource import KeyPath, Source

# Service keys in the order compose-go's ServiceConfig declares them, which is the order
# `docker compose config` prints them in (YAML and JSON alike).
SERVICE_KEYS = (
    "profiles", "build", "cap_add", "cap_drop", "cgroup_parent", "cpus", "cpuset", "cpu_shares",
    "command", "configs", "container_name", "depends_on", "deploy", "devices", "dns", "dns_opt",
    "dns_search", "domainname", "entrypoint", "environment", "env_file", "expose", "extra_hosts",
    "group_add", "hostname", "healthcheck", "image", "init", "ipc", "labels", "logging",
    "mem_limit", "mem_reservation", "memswap_limit", "mac_address", "network_mode", "networks",
    "oom_score_adj", "pid", "pids_limit", "platform", "ports", "privileged", "pull_policy",
    "read_only", "restart", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
    "stop_grace_period", "stop_signal", "sysctls", "tmpfs", "tty", "ulimits", "user", "volumes",
    "working_dir",
)  # fmt: skip
NETWORK_KEYS = ("name", "driver", "driver_opts", "ipam", "external", "internal", "attachable",
                "enable_ipv6", "labels")  # fmt: skip
VOLUME_KEYS = ("name", "driver", "driver_opts", "external", "labels")

_STRINGS = ("image", "container_name", "hostname", "restart", "stop_signal", "user",
            "working_dir", "cgroup_parent", "cpuset", "domainname", "ipc", "mac_address",
            "network_mode", "pid", "platform", "pull_policy")  # fmt: skip
_BOOLEANS = ("init", "privileged", "stdin_open", "tty", "read_only")
_PLAIN_BOOLEANS = ("privileged", "stdin_open", "tty", "read_only")
_LISTS = ("cap_add", "cap_drop", "dns", "profiles", "env_file", "dns_opt", "dns_search",
          "group_add", "security_opt", "tmpfs")  # fmt: skip
# Go ints with omitempty: a zero is left out (``scale`` is a pointer and keeps it).
_INTEGERS = ("cpu_shares", "oom_score_adj", "pids_limit", "scale")
_SIZES = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")


def _fail_at(source: Source, key: KeyPath) -> shapes.Fail:
    def fail(message: str) -> NoReturn:
        raise source.error(key, message)

    return fail


def _converter(name: str, project_dir: Path) -> Callable[[Any, shapes.Fail], Any]:
    if name in _STRINGS:
        return shapes.string
    if name in _BOOLEANS:
        return shapes.boolean
    if name in _LISTS:
        return shapes.string_list
    if name in _INTEGERS:
        return shapes.integer
    if name in _SIZES:
        return runtime_shapes.unit_bytes
    if name == "volumes":

        def volumes(value: Any, fail: shapes.Fail) -> Any:
            return shapes.volumes(value, project_dir, fail)

        return volumes
    if name == "build":

        def build(value: Any, fail: shapes.Fail) -> Any:
            return shape_build(value, project_dir, fail)

        return build
    converters: dict[str, Callable[[Any, shapes.Fail], Any]] = {
        "command": shapes.command,
        "entrypoint": shapes.command,
        "environment": shapes.mapping,
        "labels": shapes.labels,
        "ports": shapes.ports,
        "expose": shapes.expose,
        "networks": shapes.service_networks,
        "depends_on": shapes.depends_on,
        "healthcheck": shapes.healthcheck,
        "extra_hosts": shapes.extra_hosts,
        "stop_grace_period": shapes.duration,
        "cpus": runtime_shapes.cpus,
        "deploy": runtime_shapes.deploy,
        "devices": runtime_shapes.devices,
        "logging": runtime_shapes.logging,
        "sysctls": runtime_shapes.sysctls,
        "ulimits": runtime_shapes.ulimits,
        "secrets": runtime_shapes.secrets,
        "configs": runtime_shapes.configs,
    }
    return converters[name]


def shape_service(source: Source, name: str, raw: Any, project_dir: Path) -> dict[str, Any]:
    """``services.<name>`` of ``source`` in canonical shapes, keys in Compose's order."""
    key: KeyPath = ("services", name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise source.error(key, "must be a mapping")
    for field in raw:
        if field not in SERVICE_KEYS:
            raise source.error((*key, field), f"additional property {field!r} is not allowed")
    out: dict[str, Any] = {}
    for field in SERVICE_KEYS:
        if field in raw:
            fail = _fail_at(source, (*key, field))
            if field == "command" or field == "entrypoint":
                out[field] = shapes.command(raw[field], fail)
            elif raw[field] is not None:
                out[field] = _converter(field, project_dir)(raw[field], fail)
    for field in _PLAIN_BOOLEANS:
        if out.get(field) is False:  # Go's omitempty leaves a false bool out (init is a pointer)
            del out[field]
    for field in _INTEGERS:
        if out.get(field) == 0 and field != "scale":
            del out[field]
    _check_replicas(source, key, out)
    return out


def _check_replicas(source: Source, key: KeyPath, service: dict[str, Any]) -> None:
    """``scale`` and ``deploy.replicas`` (and the service-level resource keys and their
    ``deploy.resources.limits`` twins) must agree where both are written, as Compose checks."""
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    twins = (("scale", (service.get("deploy") or {}).get("replicas"), "deploy.replicas"),
             ("cpus", limits.get("cpus"), "deploy.resources.limits.cpus"),
             ("mem_limit", limits.get("memory"), "deploy.resources.limits.memory"),
             ("pids_limit", limits.get("pids"), "deploy.resources.limits.pids"))  # fmt: skip
    for field, other, other_name in twins:
        if service.get(field) is not None and other is not None and service[field] != other:
            raise source.error(key, f"can't set distinct values on '{field}' and '{other_name}'")


def shape_network(source: Source, name: str, raw: Any) -> dict[str, Any]:
    key: KeyPath = ("networks", name)
    raw = _resource_mapping(source, key, raw, NETWORK_KEYS)
    out: dict[str, Any] = {}
    for field in NETWORK_KEYS:
        if field not in raw:
            continue
        value = raw[field]
        field_fail = _fail_at(source, (*key, field))
        if field in ("external", "internal", "attachable"):
            if shapes.boolean(value, field_fail):  # omitempty drops false
                out[field] = True
        elif field == "enable_ipv6":
            out[field] = shapes.boolean(value, field_fail)
        elif field == "labels":
            out[field] = shapes.labels(value, field_fail)
        elif field == "ipam":
            out[field] = _ipam(value, field_fail)
        elif field == "driver_opts":
            out[field] = {k: shapes.scalar_text(v) for k, v in (value or {}).items()}
        else:
            out[field] = shapes.string(value, field_fail)
    return out


def _ipam(value: Any, fail: shapes.Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    if value.get("driver"):
        out["driver"] = shapes.string(value["driver"], fail)
    if value.get("config"):
        if not isinstance(value["config"], list):
            fail("config must be a list")
        out["config"] = [
            {k: shapes.scalar_text(v) for k, v in pool.items() if k in
             ("subnet", "ip_range", "gateway")} for pool in value["config"]
        ]  # fmt: skip
    return out


def shape_volume(source: Source, name: str, raw: Any) -> dict[str, Any]:
    key: KeyPath = ("volumes", name)
    raw = _resource_mapping(source, key, raw, VOLUME_KEYS)
    out: dict[str, Any] = {}
    for field in VOLUME_KEYS:
        if field not in raw:
            continue
        field_fail = _fail_at(source, (*key, field))
        value = raw[field]
        if field == "external":
            if shapes.boolean(value, field_fail):
                out[field] = True
        elif field == "labels":
            out[field] = shapes.labels(value, field_fail)
        elif field == "driver_opts":
            out[field] = {k: shapes.scalar_text(v) for k, v in (value or {}).items()}
        else:
            out[field] = shapes.string(value, field_fail)
    return out


def _resource_mapping(
    source: Source, key: KeyPath, raw: Any, allowed: tuple[str, ...]
) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise source.error(key, "must be a mapping")
    for field in raw:
        if field not in allowed:
            raise source.error((*key, field), f"additional property {field!r} is not allowed")
    return raw
