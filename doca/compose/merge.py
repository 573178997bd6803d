"""Merging the files of a multi ``-f`` project, and a service over the one it ``extends``, by
compose-go's rules (override/merge.go, uncity.go) for the keys Doca supports: maps merge key by
key, ``command``/``entrypoint``/``healthcheck.test`` are replaced, ``ports`` and ``volumes`` are
appended with one entry per port / target, other lists appended without duplicates."""

from __future__ import annotations

import copy
from typing import Any

from doca.compose.service import NETWORK_KEYS, SERVICE_KEYS, VOLUME_KEYS

_REPLACED = {"command", "entrypoint", "image"}
_MAPS = {"environment", "labels", "depends_on", "healthcheck", "build"}
# Structs compose-go prints (and hashes) in field order, whichever file set which field.
_FIELD_ORDER = {
    "healthcheck": ("test", "timeout", "interval", "retries", "start_period", "start_interval",
                    "disable"),
}  # fmt: skip


def merge_services(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` (a later file's service, or one that ``extends`` base) over ``base``."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in merged or key in _REPLACED or value is None:
            merged[key] = copy.deepcopy(value)
        elif key in _MAPS:
            merged[key] = _merge_maps(merged[key], value)
            if key in _FIELD_ORDER:
                merged[key] = _ordered(merged[key], _FIELD_ORDER[key])
        elif key == "networks":
            merged[key] = _merge_networks(merged[key], value)
        elif key == "volumes":
            merged[key] = _merge_by(merged[key], value, lambda volume: volume["target"])
        elif key == "ports":
            merged[key] = _merge_by(merged[key], value, _port_key)
        elif isinstance(value, list):
            merged[key] = _merge_by(merged[key], value, repr)
        else:
            merged[key] = copy.deepcopy(value)
    return _ordered(merged, SERVICE_KEYS)


def merge_resources(
    base: dict[str, Any], override: dict[str, Any], order: tuple[str, ...]
) -> dict[str, Any]:
    """A top-level network or volume: override's keys win, maps merge."""
    merged = _merge_maps(base, override)
    return _ordered(merged, order)


def merge_network(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return merge_resources(base, override, NETWORK_KEYS)


def merge_volume(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return merge_resources(base, override, VOLUME_KEYS)


def _merge_maps(base: Any, override: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key == "test":  # healthcheck.test replaces, it is one command
            merged[key] = copy.deepcopy(value)
        elif key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge_maps(merged[key], value)
        elif key in merged and isinstance(merged[key], list) and isinstance(value, list):
            merged[key] = _merge_by(merged[key], value, repr)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_networks(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A network listed without settings (``- back``, ``back: null``) keeps the settings the
    base gives it."""
    merged = copy.deepcopy(base)
    for name, config in override.items():
        if config is None and name in merged:
            continue
        merged[name] = _merge_maps(merged.get(name), config)
    return merged


def _port_key(port: dict[str, Any]) -> tuple[Any, ...]:
    # compose-go indexes a port without host_ip as bound to 0.0.0.0
    host_ip = port.get("host_ip") or "0.0.0.0"
    return (host_ip, port.get("published"), port["target"], port["protocol"])


def _merge_by(base: list[Any], override: list[Any], key: Any) -> list[Any]:
    """``base`` then ``override``; an override entry with the key of an earlier one takes its
    place."""
    out = {key(item): item for item in base}
    for item in override:
        out[key(item)] = copy.deepcopy(item)
    return list(out.values())


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {key: mapping[key] for key in order if key in mapping}
