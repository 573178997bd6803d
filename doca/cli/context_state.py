"""The state of each context's engine for `doca context ls --state`: whether it answers, its
version and how many containers it runs; every engine asked at once, each within a bound."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from doca.client.probe import EngineState, probe

__all__ = ["EngineState", "engine_states", "probe"]


async def _probe_all(hosts: Sequence[str]) -> list[EngineState]:
    return list(await asyncio.gather(*(probe(host) for host in hosts)))


def engine_states(hosts: Sequence[str]) -> list[EngineState]:
    """The state of each engine, in the order of ``hosts``."""
    return asyncio.run(_probe_all(hosts)) if hosts else []
