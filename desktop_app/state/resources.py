"""The three stores of the first panels: containers, images and volumes."""

from __future__ import annotations

from typing import Any

from desktop_app.state.store import ResourceStore, Row
from doca.client import EngineClient

# Container events that leave `docker ps -a` as it was.
_QUIET_CONTAINER_ACTIONS = frozenset(
    {
        "attach",
        "detach",
        "exec_create",
        "exec_start",
        "exec_die",
        "exec_detach",
        "resize",
        "top",
        "export",
        "copy",
        "archive-path",
        "extract-to-dir",
    }
)


class ContainersStore(ResourceStore):
    event_type = "container"
    ignored_actions = _QUIET_CONTAINER_ACTIONS

    def __init__(self, client: EngineClient, debounce: float = 0.2) -> None:
        super().__init__(debounce)
        self._client = client

    async def fetch(self) -> list[Row]:
        return await self._client.containers.list(all=True)

    def running(self) -> list[Row]:
        return [row for row in self.rows if row.get("State") == "running"]


class ImagesStore(ResourceStore):
    event_type = "image"
    # A pull is reported by one "pull" event (as dockerd does), which may bring a new image.
    ignored_actions = frozenset({"save", "push"})

    def __init__(self, client: EngineClient, debounce: float = 0.2) -> None:
        super().__init__(debounce)
        self._client = client

    async def fetch(self) -> list[Row]:
        return await self._client.images.list()

    def concerns(self, event: dict[str, Any]) -> bool:
        # A commit makes an image but is reported as a container event.
        if event.get("Type") == "container" and event.get("Action") == "commit":
            return True
        return super().concerns(event)


class VolumesStore(ResourceStore):
    event_type = "volume"
    ignored_actions = frozenset({"mount", "unmount"})

    def __init__(self, client: EngineClient, debounce: float = 0.2) -> None:
        super().__init__(debounce)
        self._client = client

    async def fetch(self) -> list[Row]:
        return await self._client.volumes.list()

    def key(self, row: Row) -> str:
        return str(row.get("Name", ""))
