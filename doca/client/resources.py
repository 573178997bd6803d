"""The Engine API's resources, one class each, named after Docker's operations."""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import struct
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from aiohttp import ClientPayloadError, StreamReader

from doca.client.build_options import BuildOptions, registry_config_header
from doca.client.errors import EngineUnavailable, ServerError, StreamError
from doca.client.transport import Transport

# The 8-byte header of docker's stdcopy frames: stream (1 stdout, 2 stderr), 3 zero bytes,
# big-endian payload length.
_FRAME = struct.Struct(">BxxxI")
# Where HEAD and GET of a container's archive describe the path: base64 of ContainerPathStat.
_PATH_STAT = "X-Docker-Container-Path-Stat"
_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}

# A hijacked attach or exec: its output as (stream, chunk) pairs (1 stdout, 2 stderr; all 1 with
# a TTY), and the connection's transport to write stdin to (``write_eof`` closes stdin).
Hijacked = tuple[AsyncIterator[tuple[int, bytes]], asyncio.WriteTransport]


def _filters(filters: dict[str, list[str]] | None) -> str | None:
    return orjson.dumps(filters).decode() if filters else None


def _auth_headers(auth: str | None) -> dict[str, str]:
    return {"X-Registry-Auth": auth} if auth else {}


async def _frames(
    content: StreamReader | asyncio.StreamReader,
) -> AsyncIterator[tuple[int, bytes]]:
    """(stream, payload) pairs of a multiplexed (non-TTY) stream until it ends."""
    while True:
        try:
            header = await content.readexactly(_FRAME.size)
        except EOFError:
            return
        stream, length = _FRAME.unpack(header)
        yield stream, await content.readexactly(length)


async def _progress(
    transport: Transport, method: str, path: str, **kwargs: Any
) -> AsyncIterator[dict[str, Any]]:
    """A stream of docker's JSON progress messages; a message reporting an error raises
    StreamError once the messages before it were yielded."""
    async for message in transport.json_lines(method, path, **kwargs):
        if not isinstance(message, dict):
            continue
        if message.get("error"):
            raise StreamError(str(message["error"]))
        yield message


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            yield chunk


class _RawStream:
    """What aiohttp's protocol wants of the payload parser and payload of an upgraded
    connection, over an asyncio StreamReader: every byte the engine sends is output."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def is_eof(self) -> bool:
        return self._reader.at_eof()

    def set_exception(self, exc: BaseException, cause: BaseException | None = None) -> None:
        self._reader.set_exception(exc if isinstance(exc, Exception) else Exception(str(exc)))


async def _hijacked_output(
    reader: asyncio.StreamReader, tty: bool
) -> AsyncIterator[tuple[int, bytes]]:
    if not tty:
        async for frame in _frames(reader):
            yield frame
        return
    while chunk := await reader.read(1 << 16):
        yield 1, chunk


class Containers:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @asynccontextmanager
    async def _hijack(
        self, path: str, tty: bool, params: dict[str, Any] | None = None, json: Any = None
    ) -> AsyncIterator[Hijacked]:
        """POST ``path`` asking to upgrade the connection, as dockerd's attach and exec start
        expect; the raw connection until the block ends."""
        async with self._t.request(
            "POST", path, params=params, json=json, headers=_UPGRADE
        ) as resp:
            connection = resp.connection
            protocol = connection.protocol if connection is not None else None
            transport = connection.transport if connection is not None else None
            if protocol is None or transport is None:
                raise EngineUnavailable(0, f"the engine closed the connection of {path}")
            reader = asyncio.StreamReader(limit=1 << 20)
            raw = _RawStream(reader)
            protocol.set_parser(raw, raw)
            yield _hijacked_output(reader, tty), transport

    async def list(
        self, all: bool = True, filters: dict[str, list[str]] | None = None,
        limit: int | None = None, size: bool = False,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The container list (``limit`` newest ones; ``size`` with SizeRw/SizeRootFs)."""
        params = {"all": all, "filters": _filters(filters), "limit": limit, "size": size or None}
        rows = await self._t.call("GET", "/containers/json", params=params)
        return list(rows or [])

    async def inspect(self, container: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/containers/{container}/json"))

    async def create(
        self, config: dict[str, Any], name: str | None = None, platform: str | None = None
    ) -> str:
        params = {"name": name, "platform": platform or None}
        answer = await self._t.call("POST", "/containers/create", params=params, json=config)
        return str(answer["Id"])

    async def start(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/start")

    async def stop(
        self, container: str, timeout: int | None = None, signal: str | None = None
    ) -> None:
        params = {"t": timeout, "signal": signal or None}
        await self._t.call("POST", f"/containers/{container}/stop", params=params)

    async def restart(
        self, container: str, timeout: int | None = None, signal: str | None = None
    ) -> None:
        params = {"t": timeout, "signal": signal or None}
        await self._t.call("POST", f"/containers/{container}/restart", params=params)

    async def kill(self, container: str, signal: str | None = None) -> None:
        await self._t.call("POST", f"/containers/{container}/kill", params={"signal": signal})

    async def pause(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/pause")

    async def unpause(self, container: str) -> None:
        await self._t.call("POST", f"/containers/{container}/unpause")

    async def remove(self, container: str, force: bool = False, volumes: bool = False) -> None:
        params = {"force": force, "v": volumes}
        await self._t.call("DELETE", f"/containers/{container}", params=params)

    async def rename(self, container: str, name: str) -> None:
        await self._t.call("POST", f"/containers/{container}/rename", params={"name": name})

    async def update(self, container: str, config: dict[str, Any]) -> builtins.list[str]:
        """ContainerUpdate with ``config`` (resources and ``RestartPolicy``); its warnings."""
        answer = await self._t.call("POST", f"/containers/{container}/update", json=config)
        return [str(w) for w in (answer or {}).get("Warnings") or []]

    async def prune(self, filters: dict[str, builtins.list[str]] | None = None) -> dict[str, Any]:
        """``ContainersDeleted`` and ``SpaceReclaimed``."""
        answer = await self._t.call(
            "POST", "/containers/prune", params={"filters": _filters(filters)}
        )
        return dict(answer or {})

    async def changes(self, container: str) -> builtins.list[dict[str, Any]]:
        """The container's filesystem changes: ``Path`` and ``Kind`` (0 changed, 1 added,
        2 deleted)."""
        return list(await self._t.call("GET", f"/containers/{container}/changes") or [])

    async def export(self, container: str) -> AsyncIterator[bytes]:
        """A tar of the container's filesystem, in chunks as they arrive."""
        async with self._t.request("GET", f"/containers/{container}/export") as resp:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            except ClientPayloadError as exc:
                raise StreamError(f"the export of {container} ended early: {exc}") from exc

    async def commit(
        self,
        container: str,
        repo: str = "",
        tag: str = "",
        comment: str = "",
        author: str = "",
        changes: builtins.list[str] | None = None,
        pause: bool = True,
    ) -> str:
        """ContainerCommit: an image of the container's changes; its ID."""
        params = {"container": container, "repo": repo or None, "tag": tag or None,
                  "comment": comment or None, "author": author or None,
                  "changes": changes or None, "pause": pause}  # fmt: skip
        return str((await self._t.call("POST", "/commit", params=params))["Id"])

    async def resize(self, container: str, height: int, width: int) -> None:
        params = {"h": height, "w": width}
        await self._t.call("POST", f"/containers/{container}/resize", params=params)

    @asynccontextmanager
    async def waiting(
        self, container: str, condition: str = "next-exit"
    ) -> AsyncIterator[asyncio.Future[int]]:
        """A wait the engine has registered once the block is entered, so that a container
        started inside it cannot exit unseen; the future is its exit code (ServerError when
        the engine reports the wait failed)."""
        url, params = f"/containers/{container}/wait", {"condition": condition}
        async with self._t.request("POST", url, params=params) as resp:

            async def status() -> int:
                answer = orjson.loads(await resp.read())
                error = answer.get("Error") or {}
                if error.get("Message"):
                    raise ServerError(500, str(error["Message"]))
                return int(answer["StatusCode"])

            task = asyncio.ensure_future(status())
            try:
                yield task
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def attach(
        self,
        container: str,
        tty: bool,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        logs: bool = False,
        detach_keys: str = "",
    ) -> contextlib.AbstractAsyncContextManager[Hijacked]:
        """A hijacked attach to the streams of ``container`` (whose TTY setting is ``tty``)."""
        params = {"stream": True, "stdin": stdin, "stdout": stdout, "stderr": stderr,
                  "logs": logs or None, "detachKeys": detach_keys or None}  # fmt: skip
        return self._hijack(f"/containers/{container}/attach", tty, params=params)

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
            async for frame in _frames(resp.content):
                yield frame

    async def stats(self, container: str, stream: bool = True) -> AsyncIterator[dict[str, Any]]:
        async for sample in self._t.json_lines(
            "GET", f"/containers/{container}/stats", params={"stream": stream}
        ):
            yield sample

    async def top(self, container: str, ps_args: str = "") -> dict[str, Any]:
        """``Titles`` and ``Processes`` as ps prints them (``ps_args`` are its options)."""
        params = {"ps_args": ps_args or None}
        return dict(await self._t.call("GET", f"/containers/{container}/top", params=params))

    async def stat_path(self, container: str, path: str) -> dict[str, Any]:
        """ContainerPathStat of ``path``: ``name``, ``size``, ``mode`` (Go's os.FileMode bits),
        ``mtime`` and ``linkTarget``. A HEAD has no body, so an error carries only its status."""
        url, params = f"/containers/{container}/archive", {"path": path}
        async with self._t.request("HEAD", url, params=params) as resp:
            header = resp.headers.get(_PATH_STAT, "")
        return dict(orjson.loads(base64.b64decode(header))) if header else {}

    async def get_archive(self, container: str, path: str) -> AsyncIterator[bytes]:
        """A tar of ``path`` (what ``docker cp`` copies out), in chunks as they arrive; an archive
        the engine breaks off raises StreamError."""
        url, params = f"/containers/{container}/archive", {"path": path}
        async with self._t.request("GET", url, params=params) as resp:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            except ClientPayloadError as exc:
                raise StreamError(f"the archive of {path} ended early: {exc}") from exc

    async def put_archive(
        self,
        container: str,
        path: str,
        data: bytes | AsyncIterable[bytes],
        no_overwrite_dir_non_dir: bool = False,
        copy_uid_gid: bool = False,
    ) -> None:
        """Extract the tar ``data`` into the directory ``path`` (``docker cp`` into it)."""
        params = {"path": path, "noOverwriteDirNonDir": no_overwrite_dir_non_dir,
                  "copyUIDGID": copy_uid_gid}  # fmt: skip
        headers = {"Content-Type": "application/x-tar"}
        await self._t.call(
            "PUT", f"/containers/{container}/archive", params=params, data=data, headers=headers
        )

    async def create_exec(
        self,
        container: str,
        cmd: builtins.list[str],
        env: builtins.list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        **options: Any,
    ) -> str:
        """An exec of ``cmd`` in ``container``; its ID. By default non-interactive (no stdin,
        no TTY); ``options`` are more ExecConfig keys (``AttachStdin``, ``Tty``, ``Privileged``,
        ``DetachKeys``, ``ConsoleSize`` …)."""
        config = {"Cmd": cmd, "Env": env or [], "WorkingDir": workdir or "", "User": user or "",
                  "AttachStdin": False, "AttachStdout": True, "AttachStderr": True,
                  "Tty": False, **options}  # fmt: skip
        answer = await self._t.call("POST", f"/containers/{container}/exec", json=config)
        return str(answer["Id"])

    def start_exec_attached(
        self, exec_id: str, tty: bool, console_size: tuple[int, int] | None = None
    ) -> contextlib.AbstractAsyncContextManager[Hijacked]:
        """Start an exec on a hijacked connection: its output, and its stdin if it has one."""
        body: dict[str, Any] = {"Detach": False, "Tty": tty}
        if console_size:
            body["ConsoleSize"] = list(console_size)
        return self._hijack(f"/exec/{exec_id}/start", tty, json=body)

    async def start_exec_detached(self, exec_id: str, tty: bool = False) -> None:
        await self._t.call("POST", f"/exec/{exec_id}/start", json={"Detach": True, "Tty": tty})

    async def resize_exec(self, exec_id: str, height: int, width: int) -> None:
        await self._t.call("POST", f"/exec/{exec_id}/resize", params={"h": height, "w": width})

    async def start_exec(self, exec_id: str) -> AsyncIterator[tuple[int, bytes]]:
        """(stream, chunk) pairs of a started non-TTY exec's output, until it ends."""
        body = {"Detach": False, "Tty": False}
        async with self._t.request("POST", f"/exec/{exec_id}/start", json=body) as resp:
            async for frame in _frames(resp.content):
                yield frame

    async def inspect_exec(self, exec_id: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/exec/{exec_id}/json"))

    async def exec_run(
        self,
        container: str,
        cmd: builtins.list[str],
        env: builtins.list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Run ``cmd`` in ``container`` to its end: (exit code, stdout, stderr)."""
        exec_id = await self.create_exec(container, cmd, env, workdir, user)
        out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        async for stream, chunk in self.start_exec(exec_id):
            out.setdefault(stream, bytearray()).extend(chunk)
        code = (await self.inspect_exec(exec_id)).get("ExitCode")
        return int(code or 0), bytes(out[1]), bytes(out[2])


class Images:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(
        self, all: bool = False, filters: dict[str, builtins.list[str]] | None = None
    ) -> list[dict[str, Any]]:
        params = {"all": all, "filters": _filters(filters)}
        return list(await self._t.call("GET", "/images/json", params=params) or [])

    async def inspect(self, name: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/images/{name}/json"))

    async def history(self, name: str) -> builtins.list[dict[str, Any]]:
        return list(await self._t.call("GET", f"/images/{name}/history"))

    async def tag(self, name: str, repo: str, tag: str | None = None) -> None:
        await self._t.call("POST", f"/images/{name}/tag", params={"repo": repo, "tag": tag})

    async def remove(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> builtins.list[dict[str, Any]]:
        params = {"force": force, "noprune": noprune or None}
        return list(await self._t.call("DELETE", f"/images/{name}", params=params))

    async def prune(
        self, dangling_only: bool = True, filters: dict[str, builtins.list[str]] | None = None
    ) -> dict[str, Any]:
        """``filters`` (``until``, ``label``) come on top of ``dangling``."""
        wanted = {**(filters or {}), "dangling": ["true" if dangling_only else "false"]}
        if dangling_only and not filters:
            wanted = {}
        answer = await self._t.call("POST", "/images/prune", params={"filters": _filters(wanted)})
        return dict(answer)

    async def save(self, names: builtins.list[str]) -> AsyncIterator[bytes]:
        """The `docker save` tar of ``names``, in chunks as they arrive."""
        async with self._t.request("GET", "/images/get", params={"names": names}) as resp:
            async for chunk in resp.content.iter_any():
                yield chunk

    async def pull(
        self, name: str, tag: str = "", platform: str = "", auth: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Progress messages of ``docker pull``: ``name`` is the repository (``fromImage``),
        ``tag`` a tag or a digest; ``auth`` the ``X-Registry-Auth`` value."""
        params = {"fromImage": name, "tag": tag or None, "platform": platform or None}
        async for message in _progress(
            self._t, "POST", "/images/create", params=params, headers=_auth_headers(auth)
        ):
            yield message

    async def push(
        self, name: str, tag: str = "", auth: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Progress messages of ``docker push``; without ``tag`` every tag of ``name`` goes."""
        async for message in _progress(
            self._t, "POST", f"/images/{name}/push", params={"tag": tag or None},
            headers=_auth_headers(auth),
        ):  # fmt: skip
            yield message

    async def load(self, path: Path, quiet: bool = False) -> AsyncIterator[dict[str, Any]]:
        """Progress messages of a ``docker load`` of the archive at ``path``; ``quiet`` leaves
        out progress bars, as the docker CLI asks when its output is not a terminal."""
        headers = {"Content-Type": "application/x-tar"}
        async for message in self._t.json_lines(
            "POST", "/images/load", params={"quiet": quiet or None}, data=_file_chunks(path),
            headers=headers,
        ):  # fmt: skip
            yield message

    async def build(
        self, context: Path, options: BuildOptions, registry_config: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Messages of a classic build of the context tar at ``context`` (plain or compressed):
        ``stream`` text, pull ``status``, then ``aux`` with the image ID. A failed step raises
        StreamError carrying its exit code; ``registry_config`` is ``X-Registry-Config``."""
        headers = {"Content-Type": "application/x-tar",
                   "X-Registry-Config": registry_config or registry_config_header({})}  # fmt: skip
        async for message in _progress(
            self._t, "POST", "/build", params=options.query(), data=_file_chunks(context),
            headers=headers,
        ):  # fmt: skip
            yield message

    async def prune_builds(self, all: bool = False) -> dict[str, Any]:
        """``docker builder prune``: ``CachesDeleted`` and ``SpaceReclaimed``; ``all`` removes
        every unused cache entry, not only the dangling ones."""
        answer = await self._t.call("POST", "/build/prune", params={"all": True if all else None})
        return dict(answer or {})


class Volumes:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def list(
        self, filters: dict[str, builtins.list[str]] | None = None
    ) -> list[dict[str, Any]]:
        answer = await self._t.call("GET", "/volumes", params={"filters": _filters(filters)})
        return list((answer or {}).get("Volumes") or [])

    async def inspect(self, name: str) -> dict[str, Any]:
        return dict(await self._t.call("GET", f"/volumes/{name}"))

    async def create(
        self,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        driver: str = "local",
        driver_opts: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {"Name": name or "", "Labels": labels or {}, "Driver": driver,
                "DriverOpts": driver_opts or {}}  # fmt: skip
        return dict(await self._t.call("POST", "/volumes/create", json=body))

    async def remove(self, name: str, force: bool = False) -> None:
        await self._t.call("DELETE", f"/volumes/{name}", params={"force": force})

    async def prune(
        self, all: bool = False, filters: dict[str, builtins.list[str]] | None = None
    ) -> dict[str, Any]:
        wanted = {**(filters or {}), **({"all": ["true"]} if all else {})}
        return dict(
            await self._t.call("POST", "/volumes/prune", params={"filters": _filters(wanted)})
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

    async def prune(
        self, filters: dict[str, builtins.list[str]] | None = None
    ) -> builtins.list[str]:
        params = {"filters": _filters(filters)}
        answer = await self._t.call("POST", "/networks/prune", params=params)
        return builtins.list((answer or {}).get("NetworksDeleted") or [])
