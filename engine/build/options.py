"""``POST /build``'s query, decoded as dockerd's build router decodes it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from multidict import MultiMapping

from engine.errors import InvalidParameter, NotImplementedByEngine

_FALSE = {"", "0", "no", "false", "none"}


Query = MultiMapping[str]


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    remove: bool = True  # intermediate containers of successful steps
    force_remove: bool = False  # ... and of failed ones
    quiet: bool = False
    network_mode: str = ""
    platform: str = ""
    cache_from: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    memory: int = 0
    memory_swap: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    remote: str = ""
    # registry -> auth config, from the X-Registry-Config header, for FROM's pulls
    auth_configs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _flag(query: Query, name: str, default: bool = False) -> bool:
    if name not in query:
        return default
    return query.get(name, "").strip().lower() not in _FALSE


def _int(query: Query, name: str) -> int:
    raw = query.get(name, "")
    if raw == "":
        return 0
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from exc


def _json(query: Query, name: str, kind: type, default: Any) -> Any:
    raw = query.get(name, "")
    if raw in ("", "null"):
        return default
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"invalid JSON in {name}: {exc}") from exc
    if not isinstance(value, kind):
        raise InvalidParameter(
            f"json: cannot unmarshal {type(value).__name__} into Go value of type "
            f"{'map[string]*string' if kind is dict else '[]string'} ({name})"
        )
    return value


def _string_map(query: Query, name: str, nullable: bool) -> dict[str, Any]:
    value = _json(query, name, dict, {})
    for key, item in value.items():
        if not isinstance(item, str) and not (nullable and item is None):
            raise InvalidParameter(
                f"json: cannot unmarshal {type(item).__name__} into Go value of type string "
                f"({name}.{key})"
            )
    return value


def registry_config(header: str) -> dict[str, dict[str, Any]]:
    """``X-Registry-Config``: base64url JSON of registry -> auth config (``e30=`` when empty)."""
    if not header:
        return {}
    try:
        value = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}  # as dockerd: builds that need no login still run
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, dict)}


def parse_options(query: Query, registry_header: str = "") -> BuildOptions:
    version = query.get("version", "") or "1"
    if version not in ("1", "2"):
        raise InvalidParameter(f"unsupported builder version {version}")
    if version == "2":
        raise NotImplementedByEngine(
            "BuildKit is not supported by this engine: build with DOCKER_BUILDKIT=0 "
            "(the classic builder)"
        )
    if _flag(query, "squash"):
        raise InvalidParameter("squash is only supported with experimental mode")
    ulimits = _json(query, "ulimits", list, [])
    hosts = " ".join(query.getall("extrahosts", []))
    options = BuildOptions(
        tags=[t for t in query.getall("t", []) if t],
        dockerfile=query.get("dockerfile", "") or "Dockerfile",
        build_args=_string_map(query, "buildargs", nullable=True),
        labels=_string_map(query, "labels", nullable=False),
        target=query.get("target", ""),
        no_cache=_flag(query, "nocache"),
        pull=_flag(query, "pull"),
        remove=_flag(query, "rm", True) or query.get("rm", "") == "",
        force_remove=_flag(query, "forcerm"),
        quiet=_flag(query, "q"),
        network_mode=query.get("networkmode", ""),
        platform=query.get("platform", ""),
        cache_from=_json(query, "cachefrom", list, []),
        extra_hosts=[h for h in hosts.replace(",", " ").split() if h],
        shm_size=_int(query, "shmsize"),
        memory=_int(query, "memory"),
        memory_swap=_int(query, "memswap"),
        cpu_shares=_int(query, "cpushares"),
        cpu_quota=_int(query, "cpuquota"),
        cpu_period=_int(query, "cpuperiod"),
        cpuset_cpus=query.get("cpusetcpus", ""),
        ulimits=[u for u in ulimits if isinstance(u, dict)],
        remote=query.get("remote", ""),
        auth_configs=registry_config(registry_header),
    )
    if options.memory < 0 or options.shm_size < 0:
        raise InvalidParameter("memory and shmsize must not be negative")
    if 0 < options.memory < 6 * 1024 * 1024:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    return options


def host_config(options: BuildOptions) -> dict[str, Any]:
    """The HostConfig of the containers that run the build's RUN steps."""
    config: dict[str, Any] = {
        "NetworkMode": options.network_mode or "default",
        "ExtraHosts": options.extra_hosts or None,
        "Memory": options.memory,
        "MemorySwap": options.memory_swap,
        "CpuShares": options.cpu_shares,
        "CpuQuota": options.cpu_quota,
        "CpuPeriod": options.cpu_period,
        "CpusetCpus": options.cpuset_cpus,
        "Ulimits": options.ulimits or None,
    }
    if options.shm_size:
        config["ShmSize"] = options.shm_size
    return {k: v for k, v in config.items() if v not in (None, 0, "")}


def auth_for(options: BuildOptions, registry: str) -> Mapping[str, Any]:
    """The auth config the client sent for ``registry`` (Docker Hub under its legacy keys)."""
    configs = options.auth_configs
    if registry == "docker.io":
        for key in ("https://index.docker.io/v1/", "docker.io", "index.docker.io"):
            if key in configs:
                return configs[key]
    for key, config in configs.items():
        # keys may carry a scheme and a path ("https://reg.example/v1/")
        host = key.split("://", 1)[-1].split("/", 1)[0]
        if host == registry:
            return config
    return {}
