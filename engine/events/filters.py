"""Matching events against ``/events`` filters, with dockerd's semantics."""

from __future__ import annotations

from engine.events.bus import Event
from engine.filters import Filters

EVENT_FILTERS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)


def _matches_object(event: Event, kind: str, wanted: list[str]) -> bool:
    """A name, a full ID or an ID prefix of an object of ``kind`` names the event's actor."""
    if not wanted:
        return True
    if event.type != kind:
        return False
    name = event.attributes.get("name", "")
    return any(event.actor_id.startswith(w) or name.startswith(w) for w in wanted)


def _matches_image(event: Event, wanted: list[str]) -> bool:
    if not wanted:
        return True
    if event.type == "image":
        candidates = {event.actor_id, event.attributes.get("name", "")}
    elif event.type == "container":
        candidates = {event.attributes.get("image", "")}
    else:
        return False
    for w in wanted:
        for candidate in candidates:
            if candidate and (candidate == w or _strip_tag(candidate) == w):
                return True
    return False


def _strip_tag(name: str) -> str:
    """``host:5000/app:1.0`` → ``host:5000/app``: a tag lives after the last slash only."""
    name = name.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.split(":", 1)[0]


def _matches_action(event: Event, wanted: list[str]) -> bool:
    # "health_status" also selects "health_status: healthy", as in dockerd.
    return not wanted or any(
        event.action.split(":", 1)[0] == w or event.action == w for w in wanted
    )


def event_matches(event: Event, filters: Filters) -> bool:
    return (
        (not filters.get("type") or event.type in filters.get("type"))
        and (not filters.get("scope") or event.scope in filters.get("scope"))
        and _matches_action(event, filters.get("event"))
        and _matches_object(event, "container", filters.get("container"))
        and _matches_object(event, "network", filters.get("network"))
        and _matches_object(event, "volume", filters.get("volume"))
        and _matches_object(event, "daemon", filters.get("daemon"))
        and _matches_image(event, filters.get("image"))
        and filters.match_labels(event.attributes)
    )
