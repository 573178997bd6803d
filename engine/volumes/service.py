"""Volumes: named directories under ``<data-root>/volumes/<name>/_data`` that outlive the
containers using them, with Docker's local driver and its ``type``/``device``/``o`` options."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import Conflict, InvalidParameter, NotFound
from engine.events.bus import EventBus
from engine.faults import fault_point
from engine.filters import Filters
from engine.meta.atomic import read_json, write_json
from engine.meta.disk import directory_size
from engine.runtime.mounts import MS_BIND, mount, unmount
from engine.timefmt import rfc3339_nano

log = logging.getLogger(__name__)

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("all", "label", "label!")
LOCAL_OPTIONS = ("type", "device", "o", "size")

# Tells which containers use a volume; the container service provides it.
UsageLookup = Callable[[str], list[str]]


@dataclass
class Volume:
    name: str
    created_at: str
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


class VolumeService:
    def __init__(self, root: Path, events: EventBus) -> None:
        self.root = root
        self.events = events
        self._volumes: dict[str, Volume] = {}
        self.usage: UsageLookup = lambda name: []
        self.lock = asyncio.Lock()

    def directory(self, name: str) -> Path:
        return self.root / name

    def data(self, name: str) -> Path:
        return self.root / name / "_data"

    def load(self) -> None:
        for entry in self.root.iterdir():
            meta = entry / "volume.json"
            try:
                self._volumes[entry.name] = Volume(**read_json(meta))
            except FileNotFoundError:
                # Its record is written last: this volume was never finished being created.
                # Its data is removed only while there is none to lose.
                data = self.data(entry.name)
                if data.is_dir() and any(data.iterdir()):
                    log.error("volume %s has data but no record; left in place", entry.name)
                    continue
                log.warning("removing incomplete volume %s", entry.name)
                shutil.rmtree(entry, ignore_errors=True)
            except (OSError, ValueError, TypeError) as exc:
                # A damaged record never costs the data: the volume is left alone, unlisted.
                log.error("volume %s has an unreadable record, left in place: %s", entry.name, exc)

    def get(self, name: str) -> Volume:
        volume = self._volumes.get(name)
        if volume is None:
            raise NotFound(f"get {name}: no such volume")
        return volume

    def exists(self, name: str) -> bool:
        return name in self._volumes

    def create(
        self,
        name: str | None = None,
        driver: str | None = None,
        options: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> Volume:
        """Create a volume, or return the existing one of that name as dockerd does."""
        driver = driver or "local"
        if driver != "local":
            raise NotFound(f'plugin "{driver}" not found')
        if name:
            if not _VALID_NAME.fullmatch(name):
                raise InvalidParameter(
                    f'create {name}: "{name}" includes invalid characters for a local volume '
                    'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to '
                    "pass a host directory, use absolute path"
                )
            if name in self._volumes:
                return self._volumes[name]
        else:
            name = secrets.token_hex(32)
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        options = dict(options or {})
        for key in options:
            if key not in LOCAL_OPTIONS:
                raise InvalidParameter(f"invalid option: {key!r}")
        if options.get("type") and not options.get("device") and options["type"] != "tmpfs":
            raise InvalidParameter("missing device in volume options")
        volume = Volume(name, rfc3339_nano(), driver, dict(labels or {}), options)
        self.data(name).mkdir(parents=True, exist_ok=True)
        fault_point("volume.before-record")
        write_json(self.directory(name) / "volume.json", asdict(volume))
        self._volumes[name] = volume
        self.events.publish("volume", "create", name, {"driver": driver})
        return volume

    def mountpoint(self, name: str) -> Path:
        """The host directory to bind into a container, mounting the volume's device first
        when it was created with ``type``/``device`` options."""
        volume = self.get(name)
        data = self.data(name)
        if volume.options.get("type") and not os.path.ismount(data):
            _mount_local(volume.options, data)
        return data

    def adopt(self, name: str, owner: tuple[int, int]) -> None:
        """Give a volume nothing has written to yet (empty, still root's) to ``owner``, the
        remapped root of a container in a user namespace, as dockerd's local driver makes
        new volumes under ``--userns-remap``. A volume filled from the image already took
        the owner of the image's directory."""
        data = self.data(name)
        info = os.stat(data)
        if (info.st_uid, info.st_gid) != (0, 0) or any(data.iterdir()):
            return
        os.chown(data, *owner)

    def inspect(self, name: str) -> dict[str, Any]:
        volume = self.get(name)
        return {
            "Name": volume.name,
            "Driver": volume.driver,
            "Mountpoint": str(self.data(name)),
            "CreatedAt": volume.created_at,
            "Labels": volume.labels or None,
            "Scope": "local",
            "Options": volume.options or None,
        }

    def list_volumes(self, filters: Filters) -> dict[str, Any]:
        filters.validate(LIST_FILTERS)
        dangling = filters.bool_value("dangling")
        result = []
        for volume in sorted(self._volumes.values(), key=lambda v: v.name):
            if dangling is not None and dangling == bool(self.usage(volume.name)):
                continue
            if filters.get("name") and not any(n in volume.name for n in filters.get("name")):
                continue
            if filters.get("driver") and volume.driver not in filters.get("driver"):
                continue
            if not filters.match_labels(volume.labels):
                continue
            result.append(self.inspect(volume.name))
        return {"Volumes": result, "Warnings": None}

    def remove(self, name: str, force: bool = False) -> None:
        if name not in self._volumes:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        users = self.usage(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        data = self.data(name)
        with contextlib.suppress(OSError):
            if os.path.ismount(data):
                _unmount(data)
        # The record goes first, so a crash mid-way leaves a directory that load() drops.
        (self.directory(name) / "volume.json").unlink(missing_ok=True)
        shutil.rmtree(self.directory(name), ignore_errors=True)
        del self._volumes[name]
        self.events.publish("volume", "destroy", name, {"driver": "local"})

    def size(self, name: str) -> int:
        return directory_size(self.data(name))

    def prune(self, filters: Filters) -> dict[str, Any]:
        filters.validate(PRUNE_FILTERS)
        everything = filters.bool_value("all") or False
        deleted, reclaimed = [], 0
        for volume in list(self._volumes.values()):
            if not everything and not volume.anonymous:
                continue
            if self.usage(volume.name):
                continue
            if not filters.match_labels(volume.labels) or not filters.match_not_labels(
                volume.labels
            ):
                continue
            reclaimed += self.size(volume.name)
            self.remove(volume.name)
            deleted.append(volume.name)
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _mount_local(options: dict[str, str], target: Path) -> None:
    """Docker's local driver: ``mount -t <type> -o <o> <device> <_data>``."""
    kind = options["type"]
    data = options.get("o", "")
    if kind == "tmpfs":
        mount("tmpfs", target, "tmpfs", 0, data)
    elif "bind" in data.split(","):
        mount(options["device"], target, "none", MS_BIND)
    else:
        mount(options["device"], target, kind, 0, data)


def _unmount(target: Path) -> None:
    unmount(target, lazy=True)
