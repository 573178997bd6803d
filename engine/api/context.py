"""What handlers share: the running engine's services, and the route registrar."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import Unavailable

if TYPE_CHECKING:
    # Only for the annotations: the engine answers /_ping before these modules are imported.
    from engine.build.cache import BuildCache
    from engine.config import EngineConfig
    from engine.containers.service import ContainerService
    from engine.events.bus import EventBus
    from engine.images.distribution_map import DistributionMap
    from engine.images.layer_downloads import Downloads
    from engine.images.service import ImageService
    from engine.networks.service import NetworkService
    from engine.paths import Paths
    from engine.volumes.service import VolumeService


@dataclass
class ApiContext:
    config: EngineConfig
    paths: Paths
    events: EventBus
    images: ImageService
    containers: ContainerService
    volumes: VolumeService
    networks: NetworkService
    downloads: Downloads  # layer files of pulls, kept to resume
    distribution: DistributionMap  # pushed layers' compressed digests and repositories
    build_cache: BuildCache  # the classic builder's step cache
    engine_id: str
    started_at: float
    extra: dict[str, Any] = field(default_factory=dict)


class ContextSlot:
    """Holds the app's ``ApiContext`` from the moment the engine's services exist; the
    routes that use it serve no request before (``engine.api.lazy.DeferredRoutes``)."""

    def __init__(self) -> None:
        self.value: ApiContext | None = None


CONTEXT = web.AppKey("context", ContextSlot)


def context(request: web.Request) -> ApiContext:
    ctx = request.app[CONTEXT].value
    if ctx is None:
        raise Unavailable("the engine is starting")
    return ctx


class Routes:
    """Registers each route twice: bare and under the ``/v{version}`` prefix."""

    def __init__(self, router: web.UrlDispatcher) -> None:
        self._router = router

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._router.add_route(method, path, handler)
        self._router.add_route(method, r"/v{version:\d+\.\d+}" + path, handler)
