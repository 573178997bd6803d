"""The OCI runtime binary (crun, or runc as a fallback), driven through its command line.

Every verb runs ``<runtime> --root <exec-root>/runtime --log-format=json <verb> …`` so our
containers live apart from any other engine's on the same host, and so the runtime's complaints
arrive as JSON lines that can be turned into one clean message. argv building is pure
(``OciRuntime.argv``); ``_run`` is the one place here that spawns a process.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SystemError_

#: Where to look for runtimes, in order of preference (crun starts faster and uses less memory).
RUNTIME_NAMES = ("crun", "runc")

# Phrases both runtimes use when the container is unknown to them.
_MISSING = ("does not exist", "no such file or directory", "not found")


class RuntimeFailure(SystemError_):
    """The OCI runtime or conmon refused; the message is the runtime's own words.

    ``exit_code`` is the code dockerd records for a container whose start failed this way
    (127: command not found, 126: not executable), or None when the failure is not the
    container's fault.
    """

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def start_exit_code(message: str) -> int | None:
    """dockerd's exit code for a failed start, judged from the runtime's message."""
    lowered = message.lower()
    not_found = ("executable file not found", "not found in $path", "no such file or directory")
    if any(phrase in lowered for phrase in not_found):
        return 127
    if "permission denied" in lowered:
        return 126
    return None


def runtime_message(stderr: str) -> str:
    """The error text from runtime output: the ``msg`` of its JSON log lines, else the raw text.

    The last error-level line wins when there is one (runtimes log warnings first at times);
    otherwise all lines are joined.
    """
    errors: list[str] = []
    others: list[str] = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            others.append(line)
            continue
        if not isinstance(entry, dict) or "msg" not in entry:
            others.append(line)
            continue
        level = str(entry.get("level", "error"))
        (errors if level in ("error", "fatal", "panic") else others).append(str(entry["msg"]))
    if errors:
        return errors[-1]
    return "; ".join(others) if others else "OCI runtime failed without a message"


def find_runtime(names: Sequence[str] = RUNTIME_NAMES) -> str | None:
    """Absolute path of the first runtime in ``names`` found on PATH (or the sbin dirs)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


@dataclass(frozen=True)
class OciRuntime:
    """One runtime binary plus the state directory that keeps our containers separate."""

    path: str
    root: Path
    # Global flags before every verb, e.g. crun's --cgroup-manager=disabled when rootless.
    options: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.path).name

    def argv(self, *args: str) -> list[str]:
        """Full command line for one runtime verb (pure)."""
        return [self.path, "--root", str(self.root), *self.options, "--log-format=json", *args]

    def conmon_runtime_args(self) -> list[str]:
        """Global runtime flags conmon must pass on, so ``create``/``exec`` see the same root."""
        return ["--root", str(self.root), *self.options]

    async def _run(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeFailure(runtime_message(err.decode(errors="replace")))
        return out.decode(errors="replace")

    async def state(self, container_id: str) -> dict[str, Any] | None:
        """The runtime's state JSON (``status``, ``pid``, …); None if it has no such container."""
        try:
            out = await self._run("state", container_id)
        except RuntimeFailure as exc:
            if any(phrase in exc.message.lower() for phrase in _MISSING):
                return None
            raise
        state: dict[str, Any] = json.loads(out)
        return state

    async def start(self, container_id: str) -> None:
        """Run the user process of a container that conmon has created."""
        await self._run("start", container_id)

    async def kill(self, container_id: str, signal: int | str, all_: bool = False) -> None:
        name = str(int(signal)) if isinstance(signal, int) else signal  # "15", "TERM", "SIGTERM"
        args = ["kill", *(["--all"] if all_ else []), container_id, name]
        await self._run(*args)

    async def delete(self, container_id: str, force: bool = False) -> None:
        await self._run("delete", *(["--force"] if force else []), container_id)

    async def pause(self, container_id: str) -> None:
        await self._run("pause", container_id)

    async def resume(self, container_id: str) -> None:
        await self._run("resume", container_id)

    async def update(self, container_id: str, resources: Mapping[str, Any]) -> None:
        """Apply OCI ``linux.resources`` to a live container (``docker update``)."""
        fd, name = tempfile.mkstemp(prefix="doca-resources-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(resources, f)
            await self._run("update", f"--resources={name}", container_id)
        finally:
            os.unlink(name)

    async def ps(self, container_id: str) -> list[int]:
        """PIDs (host namespace) of every process in the container."""
        out = await self._run("ps", "--format", "json", container_id)
        pids = json.loads(out) if out.strip() else None
        return [int(pid) for pid in pids or []]

    async def list(self) -> builtins.list[dict[str, Any]]:
        """Every container under our root, as the runtime describes it."""
        out = await self._run("list", "--format", "json")
        listed = json.loads(out) if out.strip() else None
        return list(listed or [])  # runc prints ``null`` when there are none
