"""``GET /containers/json``: which containers a listing shows, with every filter the CLI has."""

from __future__ import annotations

import fnmatch
from typing import Any

from engine.containers.model import ContainerRecord
from engine.containers.state import Status, is_running
from engine.containers.store import ContainerStore
from engine.containers.views import summary
from engine.errors import InvalidParameter, NotFound
from engine.filters import Filters
from engine.images.service import ImageService
from engine.networks.sandbox import SandboxManager
from engine.timefmt import parse_rfc3339

LIST_FILTERS = (
    "ancestor",
    "before",
    "exited",
    "expose",
    "health",
    "id",
    "is-task",
    "isolation",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
)
STATUSES = {s.value for s in Status}
HEALTH = ("starting", "healthy", "unhealthy", "none")


def _ancestor_ids(images: ImageService, names: list[str]) -> set[str]:
    ids = set()
    for name in names:
        try:
            ids.add(images.resolve(name).id)
        except (NotFound, InvalidParameter):
            continue
    return ids


def _matches(record: ContainerRecord, filters: Filters, ancestors: set[str]) -> bool:
    state = record.state
    if filters.get("status") and state.status.value not in filters.get("status"):
        return False
    if filters.get("id") and not any(record.id.startswith(i) for i in filters.get("id")):
        return False
    names = filters.get("name")
    if names and not any(n.lstrip("/") in record.bare_name for n in names):
        return False
    if not filters.match_labels(record.labels):
        return False
    exited = filters.get("exited")
    if exited and (state.status is not Status.EXITED or str(state.exit_code) not in exited):
        return False
    if filters.get("ancestor") and not (
        record.image_id in ancestors
        or any(fnmatch.fnmatchcase(record.image, a) for a in filters.get("ancestor"))
    ):
        return False
    health = filters.get("health")
    if health:
        current = (state.health or {}).get("Status", "none")
        if current not in health:
            return False
    if filters.get("network") and not any(
        n in record.networks or any(e.get("NetworkID") == n for e in record.networks.values())
        for n in filters.get("network")
    ):
        return False
    wanted_volumes = filters.get("volume")
    return not wanted_volumes or any(
        m.get("Name") in wanted_volumes or m.get("Destination") in wanted_volumes
        for m in record.mounts
    )


def list_containers(
    store: ContainerStore,
    images: ImageService,
    filters: Filters,
    all_: bool = False,
    limit: int | None = None,
    sandboxes: SandboxManager | None = None,
) -> list[dict[str, Any]]:
    filters.validate(LIST_FILTERS)
    for status in filters.get("status"):
        if status not in STATUSES:
            raise InvalidParameter(f"invalid filter 'status={status}'")
    for health in filters.get("health"):
        if health not in HEALTH:
            raise InvalidParameter(f"Unrecognised filter value for health: {health}")
    for code in filters.get("exited"):
        if not code.lstrip("-").isdigit():
            raise InvalidParameter(f"invalid filter 'exited={code}'")
    records = sorted(store, key=lambda r: parse_rfc3339(r.created), reverse=True)
    before = [store.get(b) for b in filters.get("before")]
    since = [store.get(s) for s in filters.get("since")]
    if before:
        cutoff = min(parse_rfc3339(b.created) for b in before)
        records = [r for r in records if parse_rfc3339(r.created) < cutoff]
    if since:
        cutoff = max(parse_rfc3339(s.created) for s in since)
        records = [r for r in records if parse_rfc3339(r.created) > cutoff]
    show_all = all_ or bool(limit and limit > 0) or "status" in filters or "exited" in filters
    ancestors = _ancestor_ids(images, filters.get("ancestor"))
    result = []
    for record in records:
        if not show_all and not is_running(record.state.status):
            continue
        if _matches(record, filters, ancestors):
            result.append(summary(record, sandboxes.get(record.id) if sandboxes else None))
        if limit and limit > 0 and len(result) >= limit:
            break
    return result
