"""Is an engine there? ``probe`` asks one for its version and what it runs, within a bound,
and never raises: for listings of several engines (``doca context ls --state``, the app's
Engines dialog)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from doca.client.client import EngineClient
from doca.client.errors import EngineError

# An engine over ssh may take a handshake or two to answer; one that takes longer than this
# is as good as unreachable for a listing.
PROBE_TIMEOUT = 10.0
REACHABLE = "reachable"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class EngineState:
    reachable: bool
    version: str = ""
    running: int | None = None
    error: str = ""

    @property
    def label(self) -> str:
        return REACHABLE if self.reachable else UNREACHABLE


async def probe(host: str, timeout: float = PROBE_TIMEOUT) -> EngineState:
    """Ask the engine at ``host`` for /version and /info; never raises."""
    try:
        async with asyncio.timeout(timeout), EngineClient(host) as client:
            version = await client.version()
            info = await client.info()
    except TimeoutError:
        return EngineState(False, error=f"no answer within {timeout:g}s")
    except EngineError as error:
        return EngineState(False, error=error.message)
    except ValueError as error:  # an address the client cannot use
        return EngineState(False, error=str(error))
    running = info.get("ContainersRunning")
    return EngineState(
        True, str(version.get("Version") or ""), running if isinstance(running, int) else None
    )
