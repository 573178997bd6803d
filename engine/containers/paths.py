"""Where one container's files live: its record and writable layer under the data root, its
bundle and conmon's sockets under the exec root (short paths, gone after a reboot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ContainerPaths:
    data: Path  # <data-root>/containers/<id>
    run: Path  # <exec-root>/containers/<id>
    exits: Path  # <exec-root>/exits, one file per container named by its ID

    @classmethod
    def of(cls, data_root: Path, exec_root: Path, container_id: str) -> ContainerPaths:
        return cls(
            data_root / "containers" / container_id,
            exec_root / "containers" / container_id,
            exec_root / "exits",
        )

    @property
    def log(self) -> Path:
        return self.data / "ctr.log"

    @property
    def upper(self) -> Path:
        return self.data / "upper"

    @property
    def work(self) -> Path:
        return self.data / "work"

    @property
    def rootfs(self) -> Path:
        return self.data / "merged"

    @property
    def bundle(self) -> Path:
        return self.run

    @property
    def attach_socket(self) -> Path:
        return self.run / "attach"

    @property
    def ctl(self) -> Path:
        return self.run / "ctl"

    @property
    def pidfile(self) -> Path:
        return self.run / "pidfile"

    @property
    def conmon_pidfile(self) -> Path:
        return self.run / "conmon.pid"

    @property
    def oci_log(self) -> Path:
        return self.run / "oci-log"

    @property
    def persist(self) -> Path:
        return self.run / "persist"

    @property
    def exit_file(self) -> Path:
        return self.exits / self.data.name

    @property
    def oom_file(self) -> Path:
        return self.persist / "oom"
