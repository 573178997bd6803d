"""A small QMP client: the commands the VM's owner sends QEMU (power button, quit, status)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

TIMEOUT = 5.0


class QMPError(Exception):
    pass


class QMP:
    """One QMP session over QEMU's unix socket; use as an async context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> QMP:
        async with asyncio.timeout(TIMEOUT):
            self.reader, self.writer = await asyncio.open_unix_connection(str(self.path))
            greeting = await self._message()
            if "QMP" not in greeting:
                raise QMPError(f"not a QMP greeting: {greeting}")
            await self.execute("qmp_capabilities")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                async with asyncio.timeout(TIMEOUT):
                    await self.writer.wait_closed()
            except (TimeoutError, OSError):
                pass

    async def execute(self, command: str, **arguments: Any) -> Any:
        """Run ``command``; its ``return`` value (events that arrive meanwhile are skipped)."""
        assert self.writer is not None
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.writer.write(json.dumps(request).encode() + b"\n")
        async with asyncio.timeout(TIMEOUT):
            await self.writer.drain()
            while True:
                reply = await self._message()
                if "return" in reply:
                    return reply["return"]
                if "error" in reply:
                    error = reply["error"]
                    raise QMPError(f"{command}: {error.get('desc', error)}")

    async def _message(self) -> dict[str, Any]:
        assert self.reader is not None
        line = await self.reader.readline()
        if not line:
            raise QMPError("QEMU closed the QMP connection")
        message: dict[str, Any] = json.loads(line)
        return message
