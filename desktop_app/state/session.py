"""``EngineSession``: the client, the stores, the event log and the event pump for one engine,
started and closed together. Qt-free; the GUI holds one and adapts its stores."""

from __future__ import annotations

from desktop_app.state.event_log import EventLog
from desktop_app.state.event_pump import EventPump
from desktop_app.state.resources import ContainersStore, ImagesStore, VolumesStore
from desktop_app.state.store import ResourceStore
from doca.client import EngineClient


class EngineSession:
    def __init__(self, client: EngineClient, debounce: float = 0.2) -> None:
        self.client = client
        self.containers = ContainersStore(client, debounce)
        self.images = ImagesStore(client, debounce)
        self.volumes = VolumesStore(client, debounce)
        self.pump = EventPump(client, on_connect=self.refresh_all)
        for store in self.stores:
            self.pump.subscribe(store.handle_event)
        self.events = EventLog()
        self.pump.subscribe(self.events.handle_event)
        self._started = False

    @property
    def stores(self) -> tuple[ResourceStore, ...]:
        return (self.containers, self.images, self.volumes)

    def start(self) -> None:
        """Start following the engine; the stores load as soon as it answers."""
        if not self._started:
            self._started = True
            self.pump.start()

    def refresh_all(self) -> None:
        """Reload every store at once (on connection; events keep them fresh afterwards)."""
        for store in self.stores:
            store.schedule_refresh(delay=0)

    def engine_is_back(self) -> None:
        """The supervisor saw the engine answer: reconnect without waiting for the back-off."""
        self.pump.kick()

    async def aclose(self) -> None:
        """Stop every task; the client is closed too (the session owns it)."""
        await self.pump.aclose()
        for store in self.stores:
            await store.aclose()
        await self.client.close()
