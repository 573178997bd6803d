"""``EngineClient``: the async Engine API client the CLI and the desktop app share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from doca.client.errors import EngineError
from doca.client.resources import Containers, Images, Networks, Volumes, _filters
from doca.client.transport import Transport, default_host


class EngineClient:
    def __init__(self, host: str | None = None) -> None:
        self.host = host or default_host()
        self._transport = Transport(self.host)
        self.containers = Containers(self._transport)
        self.images = Images(self._transport)
        self.volumes = Volumes(self._transport)
        self.networks = Networks(self._transport)

    @classmethod
    def from_env(cls) -> EngineClient:
        return cls(default_host())

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def ping(self) -> bool:
        """Whether the engine answers; never raises."""
        try:
            async with self._transport.request("GET", "/_ping") as response:
                return (await response.read()) == b"OK"
        except EngineError:
            return False

    async def version(self) -> dict[str, Any]:
        return dict(await self._transport.call("GET", "/version"))

    async def info(self) -> dict[str, Any]:
        return dict(await self._transport.call("GET", "/info"))

    async def login(self, username: str, password: str, serveraddress: str) -> dict[str, Any]:
        """Have the engine check a registry login (``docker login``): ``Status`` and, from
        registries that issue one, an ``IdentityToken`` to keep instead of the password."""
        body = {"username": username, "password": password, "serveraddress": serveraddress}
        return dict(await self._transport.call("POST", "/auth", json=body) or {})

    async def disk_usage(self) -> dict[str, Any]:
        """``docker system df``: LayersSize, Images, Containers, Volumes, BuildCache."""
        return dict(await self._transport.call("GET", "/system/df") or {})

    async def events(
        self,
        since: float | str | None = None,
        filters: dict[str, list[str]] | None = None,
        until: float | str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Engine events as they happen, until the caller stops iterating or ``until`` passes
        (seconds, or a timestamp as the API takes it: ``1700000000.000000000``)."""
        params = {"since": _timestamp(since), "until": _timestamp(until),
                  "filters": _filters(filters)}  # fmt: skip
        async for event in self._transport.json_lines("GET", "/events", params=params):
            yield event


def _timestamp(value: float | str | None) -> str | None:
    return f"{value:.9f}" if isinstance(value, int | float) else value
