"""``-v``, ``--mount`` and ``--tmpfs`` as the docker CLI reads them, into ContainerCreate's
``HostConfig.Binds``, ``Config.Volumes``, ``HostConfig.Mounts`` and ``HostConfig.Tmpfs``.
ValueError carries the docker CLI's wording."""

from __future__ import annotations

import csv
import os
from typing import Any

from doca.cli.container_limits import parse_bool, parse_memory

_END = "\0"
PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_BIND_RECURSIVE = {
    "enabled": None,
    "disabled": "NonRecursive",
    "writable": "ReadOnlyNonRecursive",
    "readonly": "ReadOnlyForceRecursive",
}


def split_volume(spec: str) -> tuple[str, str]:
    """``(source, target)`` of a ``-v`` spec, as compose's ParseVolume splits it (options after
    a second colon are the engine's to read)."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return "", spec
    source = target = ""
    buffer = ""
    for char in spec + _END:
        if char == ":" and len(buffer) == 1 and buffer.isalpha():  # a Windows drive
            buffer += char
            continue
        if char not in (":", _END):
            buffer += char
            continue
        if not buffer:
            raise ValueError(f"invalid spec: {spec}: empty section between colons")
        if not source and char == _END:
            target = buffer
        elif not source:
            source = buffer
        elif not target:
            target = buffer
        elif char == ":":
            raise ValueError(f"invalid spec: {spec}: too many colons")
        buffer = ""
    return source, target


def _is_file_path(source: str) -> bool:
    if source[0] in "./~":
        return True
    if len(source) == 1:
        return False
    return source.startswith("\\\\") or (source[0].isalpha() and source[1] == ":")


def apply_volumes(config: dict[str, Any], specs: list[str]) -> None:
    """Named and bind volumes go to ``HostConfig.Binds`` (a relative bind source made
    absolute), anonymous ones to ``Config.Volumes``."""
    binds: list[str] = []
    anonymous: dict[str, dict[str, Any]] = {}
    for spec in dict.fromkeys(specs):
        source, _ = split_volume(spec)
        if not source:
            anonymous[spec] = {}
            continue
        if _is_file_path(source):
            host, _, target = spec.partition(":")
            if not os.path.isabs(host) and host.startswith("."):
                spec = os.path.abspath(host) + ":" + target
        binds.append(spec)
    if binds:
        config["HostConfig"]["Binds"] = binds
    if anonymous:
        config["Volumes"] = anonymous


def _set_pair(target: dict[str, str], value: str) -> None:
    key, _, item = value.partition("=")
    if key:
        target[key] = item


def parse_mount(text: str) -> dict[str, Any]:
    """One ``--mount`` (``type=bind,source=/a,target=/b,readonly`` …) into a Mount."""
    fields = next(csv.reader([text]), [])
    mount: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    image: dict[str, Any] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                mount["ReadOnly"] = True
            elif key == "volume-nocopy":
                volume["NoCopy"] = True
            elif key == "bind-nonrecursive":
                bind["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        try:
            _mount_field(mount, bind, volume, tmpfs, image, key, value, field)
        except ValueError as error:
            if str(error):
                raise
            raise ValueError(f"invalid value for {key}: {value}") from None
    if not mount.get("Type"):
        raise ValueError("type is required")
    if not mount.get("Target"):
        raise ValueError("target is required")
    kind = mount["Type"]
    for options, owner, key in (
        (volume, "volume", "VolumeOptions"),
        (image, "image", "ImageOptions"),
        (bind, "bind", "BindOptions"),
        (tmpfs, "tmpfs", "TmpfsOptions"),
    ):
        if options and kind != owner:
            raise ValueError(f"cannot mix '{owner}-*' options with mount type '{kind}'")
        if options:
            mount[key] = options
    if volume:  # as the docker CLI sends any volume option
        volume.setdefault("DriverConfig", {})
    if bind.get("ReadOnlyNonRecursive") and not mount.get("ReadOnly"):
        raise ValueError(
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
        )
    if bind.get("ReadOnlyForceRecursive"):
        if not mount.get("ReadOnly"):
            raise ValueError(
                "option 'bind-recursive=readonly' requires 'readonly' to be specified in "
                "conjunction"
            )
        if bind.get("Propagation") != "rprivate":
            raise ValueError(
                "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be "
                "specified in conjunction"
            )
    return mount


def _mount_field(
    mount: dict[str, Any],
    bind: dict[str, Any],
    volume: dict[str, Any],
    tmpfs: dict[str, Any],
    image: dict[str, Any],
    key: str,
    value: str,
    field: str,
) -> None:
    """One ``key=value`` of ``--mount``; a bare ValueError means "invalid value for KEY"."""
    if key == "type":
        mount["Type"] = value.lower()
    elif key in ("source", "src"):
        absolute = not os.path.isabs(value) and value.startswith(".")
        mount["Source"] = os.path.abspath(value) if absolute else value
    elif key in ("target", "dst", "destination"):
        mount["Target"] = value
    elif key in ("readonly", "ro"):
        mount["ReadOnly"] = _flag(value)
    elif key == "consistency":
        mount["Consistency"] = value.lower()
    elif key == "bind-propagation":
        bind["Propagation"] = value.lower()
    elif key == "bind-nonrecursive":
        bind["NonRecursive"] = _flag(value)
    elif key == "bind-recursive":
        if value not in _BIND_RECURSIVE:
            raise ValueError(
                f'invalid value for {key}: {value} (must be "enabled", "disabled", "writable", '
                'or "readonly")'
            )
        if _BIND_RECURSIVE[value]:
            bind[str(_BIND_RECURSIVE[value])] = True
    elif key == "volume-subpath":
        volume["Subpath"] = value
    elif key == "volume-nocopy":
        try:
            volume["NoCopy"] = parse_bool(value)
        except ValueError:
            raise ValueError(f"invalid value for volume-nocopy: {value}") from None
    elif key == "volume-label":
        _set_pair(volume.setdefault("Labels", {}), value)
    elif key == "volume-driver":
        volume.setdefault("DriverConfig", {})["Name"] = value
    elif key == "volume-opt":
        _set_pair(volume.setdefault("DriverConfig", {}).setdefault("Options", {}), value)
    elif key == "image-subpath":
        image["Subpath"] = value
    elif key == "tmpfs-size":
        tmpfs["SizeBytes"] = _quiet(parse_memory, value)
    elif key == "tmpfs-mode":
        tmpfs["Mode"] = _quiet(lambda text: int(text, 8), value)
    else:
        raise ValueError(f"unexpected key '{key}' in '{field}'")


def _flag(value: str) -> bool:
    return bool(_quiet(parse_bool, value))


def _quiet(parse: Any, value: str) -> Any:
    """``parse(value)``; its failure as a bare ValueError (the caller names the field)."""
    try:
        return parse(value)
    except ValueError:
        raise ValueError() from None


def parse_tmpfs(specs: list[str]) -> dict[str, str]:
    """``--tmpfs PATH[:OPTIONS]`` into ``HostConfig.Tmpfs``; the engine reads the options."""
    return {path: options for path, _, options in (spec.partition(":") for spec in specs)}
