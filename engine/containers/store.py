"""Every container record, kept in memory and on disk, with Docker's look-up rules."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from engine.containers.model import ContainerRecord
from engine.errors import InvalidParameter, NotFound
from engine.faults import fault_point
from engine.meta.atomic import remove_stale_temps

log = logging.getLogger(__name__)


class ContainerStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_id: dict[str, ContainerRecord] = {}
        self._by_name: dict[str, str] = {}

    def directory(self, container_id: str) -> Path:
        return self.root / container_id

    def load(self) -> None:
        for directory in self.root.iterdir():
            if not directory.is_dir():
                continue
            remove_stale_temps(directory)
            try:
                record = ContainerRecord.load(directory)
            except (OSError, ValueError, TypeError, KeyError) as exc:
                # A container whose create never finished has no complete config.json.
                log.warning("removing incomplete container %s: %s", directory.name, exc)
                shutil.rmtree(directory, ignore_errors=True)
                continue
            self._by_id[record.id] = record
            self._by_name[record.name] = record.id

    def __iter__(self) -> Iterator[ContainerRecord]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def names(self) -> set[str]:
        return set(self._by_name)

    def name_owner(self, name: str) -> str | None:
        return self._by_name.get(name)

    def get(self, ref: str) -> ContainerRecord:
        """By full ID, by name (with or without the slash), then by unique ID prefix."""
        if ref in self._by_id:
            return self._by_id[ref]
        name = ref if ref.startswith("/") else "/" + ref
        if name in self._by_name:
            return self._by_id[self._by_name[name]]
        if ref:
            matches = [cid for cid in self._by_id if cid.startswith(ref)]
            if len(matches) == 1:
                return self._by_id[matches[0]]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def add(self, record: ContainerRecord) -> None:
        directory = self.directory(record.id)
        directory.mkdir(mode=0o710, exist_ok=True)
        record.save_state(directory)
        fault_point("container.before-config")
        record.save_config(directory)  # last: a record without config.json is incomplete
        self._by_id[record.id] = record
        self._by_name[record.name] = record.id

    def save_state(self, record: ContainerRecord) -> None:
        record.save_state(self.directory(record.id))

    def save_config(self, record: ContainerRecord) -> None:
        record.save_config(self.directory(record.id))

    def rename(self, record: ContainerRecord, new_name: str) -> None:
        self._by_name.pop(record.name, None)
        record.name = new_name
        self._by_name[new_name] = record.id
        self.save_config(record)

    def remove(self, record: ContainerRecord) -> None:
        self._by_id.pop(record.id, None)
        if self._by_name.get(record.name) == record.id:
            del self._by_name[record.name]
        directory = self.directory(record.id)
        # config.json goes first: a crash mid-way leaves an incomplete record that load() drops.
        (directory / "config.json").unlink(missing_ok=True)
        fault_point("container.mid-remove")
        shutil.rmtree(directory, ignore_errors=True)
