"""The Engine API's resources, one class each, named after Docker's operations."""

from __future__ import annotations

import builtins
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from doca.client.transport import Transport

_FRAME = struct.Struct(">BxxxI")


def _filters(filters: dict[str, list[str]] | None) -> str | None:
    return orjson.dumps(filters).decode() if filters else None


class Containers:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(
        self, all: bool = True, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._t.call(
            "GET", "/containers/json", params={"all": all, "filters": _filters(filters)}
        )
        return list(rows or [])

    async def inspect(self, container: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/containers/{container}/json"))

    async def create(self, config: dict[str, Any], name: str | None = None) -> str:
        answer = await self._t.call(
            "POST", "/containers/create", params={"name": name}, json=config
        )
        return str(answer["Id"])

    async def start(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/start")

    async def stop(self, container: str, timeout: int | None = None) -> None:
        await self._t.call("POST", f"/containers/{container}/stop", params={"t": timeout})

    async def restart(self, container: str, timeout: int | None = None) -> None:
        await self._t.call("POST", f"/containers/{container}/restart", params={"t": timeout})

    async def kill(self, container: str, signal: str | None = None) -> None:
        await self._t.call("POST", f"/containers/{container}/kill", params={"signal": signal})

    async def pause(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/pause")

    async def unpause(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/unpause")

    async def remove(self, container: str, force: bool = False, volumes: bool = False) -> None:
        params = {"force": force, "v": volumes}
        await self._t.call("DELETE", f"/containers/{container}", params=params)

    async def wait(self, container: str, condition: str = "not-running") -> int:
        answer = await self._t.call(
            "POST", f"/containers/{container}/wait", params={"condition": condition}
        )
        return int(answer["StatusCode"])

    async def logs(
        self,
        container: str,
        follow: bool = False,
        tail: int | None = None,
        timestamps: bool = False,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(stream, chunk) pairs: 1 stdout, 2 stderr (a TTY container's output is all 1)."""
        tty = bool((await self.inspect(container)).get("Config", {}).get("Tty"))
        params = {"stdout": True, "stderr": True, "follow": follow, "timestamps": timestamps,
                  "tail": "all" if tail is None else tail}  # fmt: skip
        async with self._t.request("GET", f"/containers/{container}/logs", params=params) as resp:
            if tty:
                async for chunk in resp.content.iter_any():
                    yield 1, chunk
                return
            while True:
                try:
                    header = await resp.content.readexactly(_FRAME.size)
                except EOFError:
                    return
                stream, length = _FRAME.unpack(header)
                yield stream, await resp.content.readexactly(length)

    async def stats(self, container: str, stream: bool = True) -> AsyncIterator[dict[str, Any]]:
        async for sample in self._t.json_lines(
            "GET", f"/containers/{container}/stats", params={"stream": stream}
        ):
            yield sample

    async def top(self, container: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/containers/{container}/top"))


class Images:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(self, all: bool = False) -> list[dict[str, Any]]:
        return list(await self._t.call("GET", "/images/json", params={"all": all}) or [])

    async def inspect(self, name: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/images/{name}/json"))

    async def history(self, name: str) -> builtins.list[dict[str, Any]]:
        return list(await self._t.call("GET", f"/images/{name}/history"))

    async def tag(self, name: str, repo: str, tag: str | None = None) -> None:
        await self._t.call("POST", f"/images/{name}/tag", params={"repo": repo, "tag": tag})

    async def remove(self, name: str, force: bool = False) -> builtins.list[dict[str, Any]]:
        return list(await self._t.call("DELETE", f"/images/{name}", params={"force": force}))

    async def prune(self, dangling_only: bool = True) -> dict[str, Any]:
        filters = None if dangling_only else {"dangling": ["false"]}
        answer = await self._t.call("POST", "/images/prune", params={"filters": _filters(filters)})
        return dict(answer)

    async def load(self, path: Path) -> AsyncIterator[dict[str, Any]]:
        """Progress messages of a ``docker load`` of the archive at ``path``."""

        async def body() -> AsyncIterator[bytes]:
            with path.open("rb") as archive:
                while chunk := archive.read(1 << 20):
                    yield chunk

        headers = {"Content-Type": "application/x-tar"}
        async for message in self._t.json_lines(
            "POST", "/images/load", data=body(), headers=headers
        ):
            yield message


class Volumes:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(self) -> list[dict[str, Any]]:
        answer = await self._t.call("GET", "/volumes")
        return list((answer or {}).get("Volumes") or [])

    async def inspect(self, name: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/volumes/{name}"))

    async def create(
        self, name: str | None = None, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body = {"Name": name or "", "Labels": labels or {}}
        return dict(await self._t.call("POST", "/volumes/create", json=body))

    async def remove(self, name: str, force: bool = False) -> None:
        await self._t.call("DELETE", f"/volumes/{name}", params={"force": force})

    async def prune(self, all: bool = False) -> dict[str, Any]:
        filters = {"all": ["true"]} if all else None
        return dict(
            await self._t.call("POST", "/volumes/prune", params={"filters": _filters(filters)})
        )


class Networks:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(
        self, filters: dict[str, builtins.list[str]] | None = None
    ) -> list[dict[str, Any]]:
        answer = await self._t.call("GET", "/networks", params={"filters": _filters(filters)})
        return builtins.list(answer or [])

    async def inspect(self, network: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/networks/{network}"))

    async def create(self, name: str, **options: Any) -> str:
        """``options`` are NetworkCreate's keys: Driver, Internal, EnableIPv6, IPAM, Labels…"""
        answer = await self._t.call("POST", "/networks/create", json={"Name": name, **options})
        return str(answer["Id"])

    async def remove(self, network: str) -> None:
        await self._t.call("DELETE", f"/networks/{network}")

    async def connect(
        self, network: str, container: str, endpoint: dict[str, Any] | None = None
    ) -> None:
        body = {"Container": container, "EndpointConfig": endpoint or {}}
        await self._t.call("POST", f"/networks/{network}/connect", json=body)

    async def disconnect(self, network: str, container: str, force: bool = False) -> None:
        body = {"Container": container, "Force": force}
        await self._t.call("POST", f"/networks/{network}/disconnect", json=body)

    async def prune(self) -> builtins.list[str]:
        answer = await self._t.call("POST", "/networks/prune")
        return builtins.list((answer or {}).get("NetworksDeleted") or [])
