"""A container's record: what was asked at create (``config.json``) and what it is doing now
(``state.json``), both written atomically under ``containers/<id>/``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.containers.state import Status
from engine.meta.atomic import read_json, write_json
from engine.timefmt import ZERO_TIME


@dataclass
class ContainerState:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    restart_count: int = 0
    conmon_pid: int = 0
    # Set by docker stop / kill / restart so that restart policies leave the container alone.
    stopped_by_user: bool = False
    health: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerState:
        data = dict(data)
        data["status"] = Status(data.get("status", "created"))
        return cls(**data)


@dataclass
class ContainerRecord:
    id: str
    name: str  # with Docker's leading slash
    created: str
    image_id: str
    image: str  # as the user named it
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]
    networks: dict[str, Any] = field(default_factory=dict)
    mounts: list[dict[str, Any]] = field(default_factory=list)  # inspect's "Mounts"
    state: ContainerState = field(default_factory=ContainerState)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def bare_name(self) -> str:
        return self.name.lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return self.config.get("Labels") or {}

    def config_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["state"]
        return data

    def save_config(self, directory: Path) -> None:
        write_json(directory / "config.json", self.config_json())

    def save_state(self, directory: Path) -> None:
        write_json(directory / "state.json", self.state.to_json())

    @classmethod
    def load(cls, directory: Path) -> ContainerRecord:
        data = read_json(directory / "config.json")
        state_file = directory / "state.json"
        state = ContainerState.from_json(read_json(state_file)) if state_file.exists() else None
        return cls(**data, state=state or ContainerState())
