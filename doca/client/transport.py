"""HTTP to a Docker-API engine over a unix socket, TCP or SSH, with aiohttp; errors become
``EngineError`` here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from doca.client.context_store import (
    DEFAULT_CONTEXT,
    ContextError,
    ContextStore,
    context_name,
)
from doca.client.errors import EngineError, EngineUnavailable, StreamError, error_for
from doca.client.ssh_connector import SSHConnector

DEFAULT_HOST = "unix:///run/doca/doca.sock"
API_PREFIX = "/v1.47"


def resolve_host(host: str | None = None, context: str | None = None) -> str:
    """The engine address the docker CLI would use: ``--context`` (not with ``-H``), ``-H``,
    ``$DOCKER_HOST``, ``$DOCKER_CONTEXT``, config.json's ``currentContext``, then the default
    socket. ContextError (a ValueError) when the named context cannot be used."""
    if host and context:
        raise ContextError("conflicting options: cannot specify both --host and --context")
    store = ContextStore()
    name = context_name(host, context, store)
    if name == DEFAULT_CONTEXT:
        return host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        return store.get(name).host or DEFAULT_HOST
    except ContextError as error:
        raise ContextError(f"unable to resolve docker endpoint: {error}") from None


def default_host() -> str:
    """The address without ``-H`` or ``--context``: see resolve_host."""
    return resolve_host()


Scalar = str | int | float | bool
# A list value repeats its key (``t=a&t=b``), as Go's url.Values does.
Params = Mapping[str, Scalar | Sequence[str] | None]


def _text(value: object) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def _query(params: Params | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            out.extend((key, str(item)) for item in value)
        else:
            out.append((key, _text(value)))
    return out


class Transport:
    def __init__(self, host: str) -> None:
        url = urlsplit(host)
        if url.scheme == "unix":
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=url.path)
            self.base = "http://doca" + API_PREFIX
        elif url.scheme in ("tcp", "http"):
            connector = aiohttp.TCPConnector()
            self.base = f"http://{url.netloc}{API_PREFIX}"
        elif url.scheme == "ssh":
            connector = SSHConnector(host)
            self.base = "http://doca" + API_PREFIX
        else:
            raise ValueError(f"unsupported engine host {host!r}: use unix://, tcp:// or ssh://")
        self.host = host
        self._ssh = connector if isinstance(connector, SSHConnector) else None
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
        )

    async def close(self) -> None:
        await self._session.close()

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        body = orjson.dumps(json) if json is not None else data
        all_headers = dict(headers or {})
        if json is not None:
            all_headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, self.base + path, params=_query(params), data=body, headers=all_headers
            ) as response:
                if response.status >= 400:
                    raise await _error(response)
                yield response
        except aiohttp.ClientConnectionError as exc:
            # Over ssh, the reason is what the ssh command said before it exited.
            reason = await self._ssh.failure() if self._ssh is not None else None
            message = reason or f"cannot reach the engine at {self.host}: {exc}"
            raise EngineUnavailable(0, message) from exc

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the decoded JSON answer, or None for an empty one."""
        async with self.request(method, path, **kwargs) as response:
            raw = await response.read()
        return orjson.loads(raw) if raw.strip() else None

    async def json_lines(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[Any]:
        """A streamed answer of JSON documents, one per line, as they arrive."""
        async with self.request(method, path, **kwargs) as response:
            async for line in response.content:
                if line.strip():
                    message = orjson.loads(line)
                    if isinstance(message, dict) and message.get("errorDetail"):
                        detail = message["errorDetail"]
                        raise StreamError(
                            str(detail.get("message") or message.get("error") or ""),
                            int(detail.get("code") or 0),
                        )
                    yield message


async def _error(response: aiohttp.ClientResponse) -> EngineError:
    raw = await response.read()
    try:
        message = orjson.loads(raw)["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = raw.decode(errors="replace").strip() or response.reason or "error"
    return error_for(response.status, message)
