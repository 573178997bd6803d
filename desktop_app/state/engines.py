"""The engines the app can manage: the docker CLI's contexts (its own store under the docker
config) and the app's local engine, each with the host it names and, once probed, whether it
answers, its version and how many containers it runs. Qt-free."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path

from doca.client.context_store import ContextError, ContextStore
from doca.client.probe import EngineState, probe

LOCAL = "local"


@dataclass(frozen=True)
class Engine:
    name: str
    host: str
    description: str = ""
    state: EngineState | None = None  # None until probed

    @property
    def state_text(self) -> str:
        if self.state is None:
            return "…"
        return self.state.label if self.state.reachable else f"unreachable: {self.state.error}"


def list_engines(local_host: str, config_dir: Path | None = None) -> list[Engine]:
    """The app's local engine first, then each context with a docker endpoint, by name.
    Blocking (reads the context store): call it through ``asyncio.to_thread``."""
    engines = [Engine(LOCAL, local_host, "the engine this app starts or connects to")]
    for context in ContextStore(config_dir).list_contexts():
        try:
            host = context.host
        except ContextError:
            continue  # a context for another orchestrator, with no docker endpoint
        if host:
            engines.append(Engine(context.name, host, context.description))
    return engines


async def probe_engines(engines: list[Engine]) -> list[Engine]:
    """Each engine with its state; all asked at once, each within the probe's bound."""
    states = await asyncio.gather(*(probe(engine.host) for engine in engines))
    return [replace(engine, state=state) for engine, state in zip(engines, states, strict=True)]
