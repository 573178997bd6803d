"""The ``changes`` of ``docker import`` and ``docker commit``: Dockerfile instructions applied
to an image's container config (``CMD ["sh"]``, ``ENV A=b``, ``WORKDIR /app`` …)."""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

import orjson

from engine.errors import InvalidParameter

ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


def _exec_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str) -> list[str]:
    form = _exec_form(rest)
    return form if form is not None else ["/bin/sh", "-c", rest]


def _pairs(instruction: str, rest: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` or the legacy single ``K V`` form."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise InvalidParameter(f"{instruction}: {exc}") from exc
    if not words:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.strip().partition(" ")
        if not value.strip():
            raise InvalidParameter(f"{instruction} must have two arguments")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{instruction} names can not be blank: {word!r}")
        pairs.append((key, value))
    return pairs


def _set_env(config: dict[str, Any], key: str, value: str) -> None:
    env = [e for e in config.get("Env") or [] if e.partition("=")[0] != key]
    env.append(f"{key}={value}")
    config["Env"] = env


def apply_change(config: dict[str, Any], change: str) -> None:
    instruction, _, rest = change.strip().partition(" ")
    instruction = instruction.upper()
    rest = rest.strip()
    if instruction not in ALLOWED:
        raise InvalidParameter(f"{instruction or change!r} is not a valid change command")
    if instruction == "CMD":
        config["Cmd"] = _command(rest)
    elif instruction == "ENTRYPOINT":
        config["Entrypoint"] = _command(rest) if rest else None
    elif instruction == "ENV":
        for key, value in _pairs("ENV", rest):
            _set_env(config, key, value)
    elif instruction == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_pairs("LABEL", rest))
        config["Labels"] = labels
    elif instruction == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        if not rest:
            raise InvalidParameter("EXPOSE requires at least one argument")
        for port in rest.split():
            number, _, proto = port.partition("/")
            if not number.isdigit() or not 0 < int(number) < 65536:
                raise InvalidParameter(f"invalid containerPort: {number}")
            ports[f"{number}/{proto or 'tcp'}"] = {}
        config["ExposedPorts"] = ports
    elif instruction == "VOLUME":
        volumes = dict(config.get("Volumes") or {})
        paths = _exec_form(rest)
        paths = rest.split() if paths is None else paths
        if not paths:
            raise InvalidParameter("VOLUME requires at least one argument")
        for path in paths:
            volumes[path] = {}
        config["Volumes"] = volumes
    elif instruction == "WORKDIR":
        current = config.get("WorkingDir") or "/"
        config["WorkingDir"] = posixpath.normpath(posixpath.join(current, rest))
    elif instruction == "USER":
        config["User"] = rest
    elif instruction == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif instruction == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    for change in changes:
        if change.strip():
            apply_change(config, change)
    return config
