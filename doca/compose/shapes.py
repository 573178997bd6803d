"""Compose's short and long syntaxes brought to the one shape ``docker compose config`` prints:
pure functions of one key's value each. A ``Fail`` callback turns a problem into an error that
names the file, line and key."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from doca.compose.durations import format_duration, parse_duration

Fail = Callable[[str], NoReturn]

_PORT = re.compile(
    r"^(?:(?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[0-9.]+|[^:/\[\]]*?)):)??"
    r"(?:(?P<published>[0-9]+(?:-[0-9]+)?)?:)?"
    r"(?P<target>[0-9]+(?:-[0-9]+)?)(?:/(?P<protocol>[a-z]+))?$"
)


def scalar_text(value: Any) -> str:
    """A YAML scalar as Compose reads it into a string field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def string(value: Any, fail: Fail) -> str:
    if isinstance(value, dict | list) or value is None:
        fail("must be a string")
    return scalar_text(value)


def boolean(value: Any, fail: Fail) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "yes", "y", "on", "1"):
        return True
    if text in ("false", "no", "n", "off", "0"):
        return False
    fail("must be a boolean")


def integer(value: Any, fail: Fail) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value))
    except ValueError:
        fail("must be an integer")


def duration(value: Any, fail: Fail) -> str:
    try:
        return format_duration(parse_duration(value))
    except ValueError:
        fail(f"invalid duration {scalar_text(value)!r}")


def string_list(value: Any, fail: Fail) -> list[str]:
    """A list of strings, where a single string stands for a list of one."""
    if isinstance(value, str | int | float):
        return [scalar_text(value)]
    if not isinstance(value, list):
        fail("must be a string or a list of strings")
    return [string(item, fail) for item in value]


def command(value: Any, fail: Fail) -> list[str] | None:
    """``command``/``entrypoint``: a string is split as a POSIX shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            fail(str(exc))
    return string_list(value, fail)


def mapping(value: Any, fail: Fail, allow_null: bool = True) -> dict[str, str | None]:
    """``environment``/``labels``: a ``KEY=VALUE`` list or a map, as a map of strings."""
    if isinstance(value, list):
        out: dict[str, str | None] = {}
        for item in value:
            key, sep, val = string(item, fail).partition("=")
            out[key] = val if sep else None
        return out
    if not isinstance(value, dict):
        fail("must be a mapping or a list of KEY=VALUE strings")
    return {key: None if val is None else string(val, fail) for key, val in value.items()}


def labels(value: Any, fail: Fail) -> dict[str, str]:
    return {key: val or "" for key, val in mapping(value, fail).items()}


def extra_hosts(value: Any, fail: Fail) -> list[str]:
    """Compose prints ``host=ip`` whatever the separator written."""
    if isinstance(value, dict):
        return [f"{host}={string(ip, fail)}" for host, ip in value.items()]
    out = []
    for entry in string_list(value, fail):
        host, sep, ip = entry.partition("=")
        if not sep:
            host, sep, ip = entry.partition(":")
        if not sep:
            fail(f"invalid extra host {entry!r}")
        out.append(f"{host}={ip}")
    return out


def ports(value: Any, fail: Fail) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        fail("must be a list")
    out: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, dict):
            out.append(_long_port(item, fail))
        else:
            out.extend(_short_ports(scalar_text(item), fail))
    return out


def _long_port(item: dict[str, Any], fail: Fail) -> dict[str, Any]:
    if "target" not in item:
        fail("port is missing target")
    port: dict[str, Any] = {"mode": string(item.get("mode", "ingress"), fail)}
    if item.get("host_ip"):
        port["host_ip"] = string(item["host_ip"], fail)
    port["target"] = integer(item["target"], fail)
    if item.get("published") not in (None, ""):
        port["published"] = string(item["published"], fail)
    port["protocol"] = string(item.get("protocol", "tcp"), fail)
    if item.get("app_protocol"):
        port["app_protocol"] = string(item["app_protocol"], fail)
    return port


def _short_ports(text: str, fail: Fail) -> list[dict[str, Any]]:
    match = _PORT.match(text)
    if not match:
        fail(f"invalid port {text!r}")
    host_ip = match.group("ip6") or match.group("ip") or ""
    protocol = match.group("protocol") or "tcp"
    targets = _port_range(match.group("target"), fail)
    published = _port_range(match.group("published"), fail) if match.group("published") else []
    if published and len(published) != len(targets):
        if len(targets) != 1:
            fail(f"invalid port range {text!r}")
        published = [published[0]]  # "8000-8010:80": the engine picks one host port
        return [_port(host_ip, targets[0], match.group("published"), protocol)]
    return [
        _port(host_ip, target, str(published[index]) if published else None, protocol)
        for index, target in enumerate(targets)
    ]


def _port(host_ip: str, target: int, published: str | None, protocol: str) -> dict[str, Any]:
    port: dict[str, Any] = {"mode": "ingress"}
    if host_ip:
        port["host_ip"] = host_ip
    port["target"] = target
    if published:
        port["published"] = published
    port["protocol"] = protocol
    return port


def _port_range(text: str, fail: Fail) -> list[int]:
    first, _, last = text.partition("-")
    start, end = int(first), int(last or first)
    if end < start or end > 65535:
        fail(f"invalid port range {text!r}")
    return list(range(start, end + 1))


def expose(value: Any, fail: Fail) -> list[str]:
    return string_list(value, fail)


def volumes(value: Any, project_dir: Path, fail: Fail) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        fail("must be a list")
    return [
        _long_volume(item, project_dir, fail)
        if isinstance(item, dict)
        else _short_volume(scalar_text(item), project_dir, fail)
        for item in value
    ]


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _host_path(source: str, project_dir: Path) -> str:
    path = os.path.expanduser(source)
    return os.path.normpath(os.path.join(project_dir, path))


def _short_volume(text: str, project_dir: Path, fail: Fail) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "volume": {}}
    if len(parts) > 3:
        fail(f"invalid volume specification {text!r}")
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    volume: dict[str, Any] = {}
    if _is_path(source):
        volume = {"type": "bind", "source": _host_path(source, project_dir), "target": target}
    else:
        volume = {"type": "volume", "source": source, "target": target}
    if "ro" in modes:
        volume["read_only"] = True
    if volume["type"] == "bind":
        volume["bind"] = {"create_host_path": True}
        propagation = [m for m in modes if m in ("shared", "slave", "private", "rshared",
                                                 "rslave", "rprivate")]  # fmt: skip
        if propagation:
            volume["bind"] = {"propagation": propagation[0], "create_host_path": True}
    else:
        volume["volume"] = {"nocopy": True} if "nocopy" in modes else {}
    return volume


def _long_volume(item: dict[str, Any], project_dir: Path, fail: Fail) -> dict[str, Any]:
    kind = string(item.get("type", "volume"), fail)
    if kind not in ("volume", "bind", "tmpfs"):
        fail(f"unsupported volume type {kind!r}")
    if "target" not in item:
        fail("volume is missing target")
    volume: dict[str, Any] = {"type": kind}
    if item.get("source"):
        source = string(item["source"], fail)
        volume["source"] = _host_path(source, project_dir) if kind == "bind" else source
    volume["target"] = string(item["target"], fail)
    if item.get("read_only"):
        volume["read_only"] = boolean(item["read_only"], fail)
    for key in ("bind", "volume", "tmpfs"):
        if isinstance(item.get(key), dict):
            volume[key] = dict(item[key])
    if kind == "tmpfs" and "tmpfs" in volume and "size" in volume["tmpfs"]:
        volume["tmpfs"]["size"] = integer(volume["tmpfs"]["size"], fail)
    return volume


def service_networks(value: Any, fail: Fail) -> dict[str, dict[str, Any] | None]:
    if isinstance(value, list):
        return {string(name, fail): None for name in value}
    if not isinstance(value, dict):
        fail("must be a list or a mapping")
    out: dict[str, dict[str, Any] | None] = {}
    for name, config in value.items():
        if config is None:
            out[name] = None
            continue
        if not isinstance(config, dict):
            fail(f"network {name} must be a mapping")
        entry: dict[str, Any] = {}
        if config.get("aliases"):
            entry["aliases"] = string_list(config["aliases"], fail)
        for key in ("ipv4_address", "ipv6_address"):
            if config.get(key):
                entry[key] = string(config[key], fail)
        out[name] = entry
    return out


CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


def depends_on(value: Any, fail: Fail) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {
            string(name, fail): {"condition": "service_started", "required": True} for name in value
        }
    if not isinstance(value, dict):
        fail("must be a list or a mapping")
    out: dict[str, dict[str, Any]] = {}
    for name, config in value.items():
        config = config or {}
        condition = string(config.get("condition", "service_started"), fail)
        if condition not in CONDITIONS:
            fail(f"invalid condition {condition!r} for {name}")
        entry: dict[str, Any] = {"condition": condition}
        if "restart" in config:
            entry["restart"] = boolean(config["restart"], fail)
        entry["required"] = boolean(config.get("required", True), fail)
        out[name] = entry
    return out


def healthcheck(value: Any, fail: Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    if "test" in value:
        test = value["test"]
        out["test"] = ["CMD-SHELL", test] if isinstance(test, str) else string_list(test, fail)
    for key in ("timeout", "interval"):
        if key in value:
            out[key] = duration(value[key], fail)
    if "retries" in value:
        out["retries"] = integer(value["retries"], fail)
    for key in ("start_period", "start_interval"):
        if key in value:
            out[key] = duration(value[key], fail)
    if "disable" in value:
        out["disable"] = boolean(value["disable"], fail)
    return out
