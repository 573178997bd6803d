"""A container's mounts: ``-v``/``--mount``/``VOLUME``/``--volumes-from`` turned into Docker's
mount points at create, and into bind mounts of the OCI spec at start."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.containers.rootpath import resolve_in_root
from engine.errors import InvalidParameter, NotFound
from engine.runtime.oci_mounts import Mount
from engine.volumes.service import VolumeService

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


@dataclass
class MountSpec:
    type: str  # bind | volume | tmpfs
    source: str
    destination: str
    read_only: bool = False
    propagation: str = ""
    nocopy: bool = False
    mode: str = ""
    tmpfs_size: int = 0
    tmpfs_mode: int = 0


def _check_destination(destination: str, spec: str) -> str:
    if not destination.startswith("/"):
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config for type "
            f"\"volume\": invalid mount path: '{destination}' mount path must be absolute"
        )
    return os.path.normpath(destination)


def parse_bind(spec: str) -> MountSpec:
    """``-v SRC:DST[:OPTIONS]`` as dockerd reads HostConfig.Binds."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidParameter(f"invalid volume specification: '{spec}'")
    source, destination = parts[0], _check_destination(parts[1], spec)
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    mount = MountSpec("bind" if source.startswith("/") else "volume", source, destination)
    for option in options:
        if option in ("ro", "rw"):
            mount.read_only = option == "ro"
        elif option in PROPAGATIONS:
            mount.propagation = option
        elif option in ("z", "Z"):
            mount.mode = option
        elif option == "nocopy":
            mount.nocopy = True
        else:
            raise InvalidParameter(f"invalid mode: {option}")
    return mount


def _invalid(kind: str, why: str) -> str:
    return f'invalid mount config for type "{kind}": {why}'


def parse_mount(entry: Any) -> MountSpec:
    """One entry of HostConfig.Mounts (``--mount``)."""
    if not isinstance(entry, dict):
        raise InvalidParameter("invalid mount config: must be an object")
    kind = entry.get("Type") or ""
    target = entry.get("Target") or ""
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidParameter(_invalid(kind, "mount type unknown"))
    if not target:
        raise InvalidParameter(
            f'invalid mount config for type "{kind}": field Target must not be empty'
        )
    destination = _check_destination(target, target)
    source = entry.get("Source") or ""
    mount = MountSpec(kind, source, destination, bool(entry.get("ReadOnly")))
    if kind == "bind":
        if not source:
            raise InvalidParameter(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        if not os.path.exists(source):
            raise InvalidParameter(_invalid(kind, f"bind source path does not exist: {source}"))
        mount.propagation = (entry.get("BindOptions") or {}).get("Propagation") or ""
    elif kind == "volume":
        mount.nocopy = bool((entry.get("VolumeOptions") or {}).get("NoCopy"))
    else:
        if source:
            raise InvalidParameter(
                'invalid mount config for type "tmpfs": field Source must be empty'
            )
        options = entry.get("TmpfsOptions") or {}
        mount.tmpfs_size = int(options.get("SizeBytes") or 0)
        mount.tmpfs_mode = int(options.get("Mode") or 0)
    return mount


def mount_points(
    config: dict[str, Any],
    host: dict[str, Any],
    volumes: VolumeService,
    volumes_from: list[list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Every mount of a new container as inspect's ``Mounts`` shows them; creates the named
    and anonymous volumes that do not exist yet (validate first, create last)."""
    specs = [parse_bind(b) for b in host.get("Binds") or []]
    specs += [parse_mount(m) for m in host.get("Mounts") or []]
    seen: set[str] = set()
    for spec in specs:
        if spec.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {spec.destination}")
        seen.add(spec.destination)
    for path in config.get("Volumes") or {}:
        destination = _check_destination(path, path)
        if destination not in seen:
            specs.append(MountSpec("volume", "", destination))
            seen.add(destination)
    points: list[dict[str, Any]] = []
    for inherited in volumes_from:
        points += [dict(p) for p in inherited if p["Destination"] not in seen]
    for spec in specs:
        points.append(_mount_point(spec, volumes))
    return points


def _mount_point(spec: MountSpec, volumes: VolumeService) -> dict[str, Any]:
    if spec.type == "volume":
        volume = volumes.create(spec.source or None)
        return {
            "Type": "volume",
            "Name": volume.name,
            "Source": str(volumes.data(volume.name)),
            "Destination": spec.destination,
            "Driver": volume.driver,
            "Mode": spec.mode,
            "RW": not spec.read_only,
            "Propagation": "",
            "NoCopy": spec.nocopy,
        }
    if spec.type == "bind":
        return {
            "Type": "bind",
            "Source": spec.source,
            "Destination": spec.destination,
            "Mode": spec.mode,
            "RW": not spec.read_only,
            "Propagation": spec.propagation or "rprivate",
        }
    return {
        "Type": "tmpfs",
        "Source": "",
        "Destination": spec.destination,
        "Mode": "",
        "RW": not spec.read_only,
        "Propagation": "",
        "TmpfsSize": spec.tmpfs_size,
        "TmpfsMode": spec.tmpfs_mode,
    }


def inherit(points: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """The mount points ``--volumes-from CTR[:ro|rw]`` takes from another container."""
    if mode not in ("", "ro", "rw"):
        raise InvalidParameter(f"invalid mode: {mode}")
    inherited = []
    for point in points:
        if point["Type"] == "tmpfs":
            continue
        copy = dict(point)
        if mode:
            copy["RW"] = mode == "rw"
        inherited.append(copy)
    return inherited


def oci_mounts(points: list[dict[str, Any]], rootfs: Path, volumes: VolumeService) -> list[Mount]:
    """The OCI mounts for a start; fills new volumes from the image first, as Docker does."""
    mounts = []
    for point in points:
        destination = point["Destination"]
        if point["Type"] == "tmpfs":
            options = ["nosuid", "nodev", "noexec"]
            if point.get("TmpfsSize"):
                options.append(f"size={point['TmpfsSize']}")
            if point.get("TmpfsMode"):
                options.append(f"mode={point['TmpfsMode']:o}")
            mounts.append(Mount(destination, "tmpfs", "tmpfs", tuple(options)))
            continue
        if point["Type"] == "volume":
            try:
                source = volumes.mountpoint(point["Name"])
            except NotFound as exc:
                raise NotFound(
                    f"error while mounting volume '{destination}': {exc.message}"
                ) from exc
            if not point.get("NoCopy"):
                copy_up(rootfs, destination, source)
        else:
            source = Path(point["Source"])
            if not os.path.lexists(source):
                # As dockerd, at start (never at create): -v makes a missing host path a
                # directory. A file or socket that is there is mounted as it is.
                source.mkdir(parents=True)
        options = ["rbind", "ro" if not point["RW"] else "rw"]
        if point.get("Propagation"):
            options.append(point["Propagation"])
        mounts.append(Mount(destination, "bind", str(source), tuple(options)))
    return mounts


def copy_up(rootfs: Path, destination: str, volume: Path) -> None:
    """An empty volume mounted over a directory of the image starts with that directory's
    contents (ownership and modes kept), as with Docker."""
    if any(volume.iterdir()):
        return
    source = resolve_in_root(rootfs, destination)
    try:
        info = os.lstat(source)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    shutil.copytree(source, volume, symlinks=True, dirs_exist_ok=True, copy_function=_copy)
    for directory, dirs, files in os.walk(source):
        for name in dirs + files:
            original = os.path.join(directory, name)
            copied = os.path.join(volume, os.path.relpath(original, source))
            st = os.lstat(original)
            os.lchown(copied, st.st_uid, st.st_gid)
    os.chown(volume, info.st_uid, info.st_gid)
    os.chmod(volume, stat.S_IMODE(info.st_mode))


def _copy(source: str, target: str) -> None:
    shutil.copy2(source, target, follow_symlinks=False)
