"""Engines on other hosts over SSH: ``ssh://[user@]host[:port][/path/to/socket]``, as the
docker CLI reaches them.

Each HTTP connection is one ``ssh … -- docker system dial-stdio`` process whose stdin and
stdout are one end of a socketpair; aiohttp speaks HTTP over the other end as over any unix
socket. This way rather than forwarding the engine's socket (``ssh -L local.sock:remote.sock
-N``) because:

- it is what the docker CLI runs, so ``doca -H ssh://h`` and ``docker -H ssh://h`` reach the
  same engine on ``h``: the one that host's own CLI would use (its ``DOCKER_HOST``, its current
  context), or the socket the URL's path names. A forward would have to guess the remote
  socket's path (``/run/doca/doca.sock`` or ``/var/run/docker.sock``) and needs the server to
  allow stream-local forwarding;
- nothing is left behind: no local socket file to create, wait for and clean up, and no
  long-lived ssh process to supervise; each process lives exactly as long as its connection,
  and aiohttp's keep-alive pool keeps the SSH handshakes few;
- half-close works end to end: shutting our end's sending side is the end of ssh's stdin,
  which ``dial-stdio`` turns into the end of the engine connection's sending side, as
  ``docker run -i`` and ``exec -i`` need.

The remote command runs the docker CLI's ``dial-stdio`` when the host has ``docker``, else
``doca``'s, which copies the stream the same way.

ssh runs with ``BatchMode=yes``: the desktop app has no terminal to prompt on, and a prompt
per connection would be no use to the CLI either; keys come from the agent or ssh's config.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import socket
import subprocess
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.client_proto import ResponseHandler

SSH = "ssh"
# The docker CLI's flags: a bounded connect, and no terminal (which would make the remote
# shell a login shell and mangle the stream).
SSH_FLAGS = ("-o", "ConnectTimeout=30", "-T", "-o", "BatchMode=yes")
# Kept of a failed ssh's stderr, for the error that reports it.
STDERR_LIMIT = 4096
# How long a failed request waits for its ssh process to exit and say why; reports older
# than FAILURE_AGE seconds are about some earlier connection.
FAILURE_WAIT = 1.0
FAILURE_AGE = 10.0
STOP_WAIT = 5.0


@dataclass(frozen=True)
class SSHSpec:
    """An ``ssh://`` engine address, as the docker CLI's connhelper/ssh reads it."""

    host: str
    user: str = ""
    port: str = ""
    path: str = ""


def parse_ssh_url(address: str) -> SSHSpec:
    """The parts of ``ssh://[user@]host[:port][/socket]``; ValueError with the docker CLI's
    words for what it refuses (a password, a query, a fragment, no host)."""
    try:
        url = urlsplit(address)
        port = url.port
    except ValueError as error:
        raise ValueError(f"ssh host connection is not valid: {error}") from None

    def invalid(reason: str) -> ValueError:
        return ValueError(f"ssh host connection is not valid: {reason}")

    if url.scheme != "ssh":
        raise invalid(f"incorrect scheme: {url.scheme}")
    if url.password is not None:
        raise invalid("plain-text password is not supported")
    if not url.hostname:
        raise invalid("hostname is empty")
    if url.query:
        raise invalid(f'query parameters are not allowed: "{url.query}"')
    if url.fragment:
        raise invalid(f'fragments are not allowed: "{url.fragment}"')
    return SSHSpec(url.hostname, url.username or "", str(port) if port else "", url.path)


def remote_command(spec: SSHSpec) -> str:
    """What the remote shell runs: the host's ``docker system dial-stdio`` (exactly what the
    docker CLI sends), else ``doca``'s; ``--host=unix://PATH`` for a URL with a path."""

    def dial(program: str) -> str:
        host = [f"--host=unix://{spec.path}"] if spec.path.strip("/") else []
        return shlex.join([program, *host, "system", "dial-stdio"])

    return f"command -v docker >/dev/null 2>&1 && exec {dial('docker')} || exec {dial('doca')}"


def ssh_argv(spec: SSHSpec) -> list[str]:
    """The ssh command line that opens one stream to the engine of ``spec``."""
    argv = [SSH, *SSH_FLAGS]
    if spec.user:
        argv += ["-l", spec.user]
    if spec.port:
        argv += ["-p", spec.port]
    return [*argv, "--", spec.host, remote_command(spec)]


def failure_message(argv: list[str], code: int, stderr: bytes) -> str:
    """A failed ssh, worded as the docker CLI's commandconn reports it."""
    return (
        f"command [{' '.join(argv)}] has exited with exit status {code}, make sure the URL is "
        "valid, and Doca or Docker 18.09 or later is installed on the remote host: "
        f"stderr={stderr.decode(errors='replace').strip()}"
    )


class SSHConnector(aiohttp.BaseConnector):
    """aiohttp connections that are each an ssh process running ``dial-stdio`` remotely.

    The connector owns its processes and the tasks that wait for them: closing it ends both.
    """

    def __init__(self, address: str, **kwargs: Any) -> None:
        self.spec = parse_ssh_url(address)
        self.argv = ssh_argv(self.spec)
        super().__init__(**kwargs)
        self._watchers: set[asyncio.Task[None]] = set()
        self._processes: set[asyncio.subprocess.Process] = set()
        self._failures: list[tuple[float, str]] = []

    async def _create_connection(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        ours, theirs = socket.socketpair()
        try:
            try:
                # A session of its own: the terminal's ^C is the CLI's to handle, not ssh's.
                end = theirs.fileno()
                process = await asyncio.create_subprocess_exec(
                    *self.argv, stdin=end, stdout=end, stderr=subprocess.PIPE,
                    start_new_session=True,
                )  # fmt: skip
            except FileNotFoundError:
                self._failures.append(
                    (time.monotonic(), f'exec: "{SSH}": executable file not found in $PATH')
                )
                raise
            finally:
                theirs.close()
            self._watch(process)
            _, protocol = await self._loop.create_unix_connection(self._factory, sock=ours)
        except BaseException as error:
            ours.close()
            if isinstance(error, OSError):
                raise aiohttp.ClientConnectorError(req.connection_key, error) from error
            raise
        return protocol

    def _watch(self, process: asyncio.subprocess.Process) -> None:
        self._processes.add(process)
        task = self._loop.create_task(self._wait(process))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _wait(self, process: asyncio.subprocess.Process) -> None:
        """Reap ``process``, keeping the end of its stderr; a failure is recorded for
        ``failure``."""
        stderr = b""
        assert process.stderr is not None
        try:
            while chunk := await process.stderr.read(STDERR_LIMIT):
                stderr = (stderr + chunk)[-STDERR_LIMIT:]
            code = await process.wait()
        finally:
            self._processes.discard(process)
        if code != 0:
            self._failures.append((time.monotonic(), failure_message(self.argv, code, stderr)))

    async def failure(self) -> str | None:
        """Why an ssh process failed, if one did: the latest such report, waiting a moment
        for a process that is still on its way out."""
        if not self._failures and self._watchers:
            await asyncio.wait(
                set(self._watchers), timeout=FAILURE_WAIT, return_when=asyncio.FIRST_COMPLETED
            )
        recent = [message for at, message in self._failures
                  if time.monotonic() - at < FAILURE_AGE]  # fmt: skip
        self._failures.clear()
        return recent[-1] if recent else None

    def close(self, *, abort_ssl: bool = False) -> Awaitable[None]:
        return self._stop(super().close(abort_ssl=abort_ssl))

    async def _stop(self, connections_closed: Awaitable[None]) -> None:
        """Once the connections are closed, end the ssh processes that are still there and
        wait for them."""
        await connections_closed
        for process in list(self._processes):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        watchers = set(self._watchers)
        if watchers:
            _, late = await asyncio.wait(watchers, timeout=STOP_WAIT)
            for process in list(self._processes):
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
