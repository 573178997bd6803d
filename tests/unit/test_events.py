"""Tests for the event bus and ``/events`` filter matching."""

import asyncio
import threading

import pytest

from engine.events import bus as bus_module
from engine.events.bus import Event, EventBus
from engine.events.filters import EVENT_FILTERS, event_matches
from engine.filters import Filters

CID = "4f1c2d3e" + "a" * 56


async def _next(sub: bus_module.Subscription) -> Event | None:
    return await asyncio.wait_for(sub.get(), timeout=2)


async def test_publish_reaches_subscriber() -> None:
    bus = EventBus()
    history, sub = bus.subscribe()
    assert history == []
    published = bus.publish("container", "start", CID, {"name": "web"})
    event = await _next(sub)
    assert event is published
    assert (event.type, event.action, event.actor_id) == ("container", "start", CID)
    assert event.attributes == {"name": "web"}


async def test_every_subscriber_gets_each_event() -> None:
    bus = EventBus()
    _, first = bus.subscribe()
    _, second = bus.subscribe()
    assert bus.listeners == 2
    bus.publish("image", "pull", "busybox:latest")
    bus.publish("image", "tag", "busybox:latest")
    for sub in (first, second):
        assert [(await _next(sub)).action for _ in range(2)] == ["pull", "tag"]  # type: ignore[union-attr]


async def test_publish_copies_attributes() -> None:
    bus = EventBus()
    attributes = {"name": "web"}
    event = bus.publish("container", "create", CID, attributes)
    attributes["name"] = "changed"
    assert event.attributes == {"name": "web"}


async def test_subscribe_replays_history() -> None:
    bus = EventBus()
    bus.publish("network", "create", "n1")
    bus.publish("volume", "create", "v1")
    history, sub = bus.subscribe()
    assert [(e.type, e.actor_id) for e in history] == [("network", "n1"), ("volume", "v1")]
    assert sub.queue.empty()  # history is not delivered twice


async def test_history_is_bounded() -> None:
    bus = EventBus()
    for i in range(bus_module.HISTORY + 5):
        bus.publish("volume", "create", f"v{i}")
    history, _ = bus.subscribe()
    assert len(history) == bus_module.HISTORY
    assert history[0].actor_id == "v5"
    assert history[-1].actor_id == f"v{bus_module.HISTORY + 4}"


async def test_closed_subscription_gets_nothing() -> None:
    bus = EventBus()
    with bus.subscribe()[1] as sub:
        assert bus.listeners == 1
    assert bus.listeners == 0
    bus.publish("container", "die", CID)
    assert sub.queue.empty()


async def test_publish_from_worker_thread_is_delivered_on_loop() -> None:
    bus = EventBus()
    loop = asyncio.get_running_loop()
    bus.bind(loop)
    _, sub = bus.subscribe()
    loop_thread = threading.get_ident()
    delivered_on: list[int] = []
    original = bus._deliver

    def spy(event: Event) -> None:
        delivered_on.append(threading.get_ident())
        original(event)

    bus._deliver = spy  # type: ignore[method-assign]
    await asyncio.to_thread(bus.publish, "container", "start", CID)
    event = await _next(sub)
    assert event is not None and event.action == "start"
    assert delivered_on == [loop_thread]


async def test_publish_on_loop_thread_is_immediate() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    _, sub = bus.subscribe()
    bus.publish("container", "start", CID)
    assert sub.queue.qsize() == 1


async def test_slow_subscriber_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "QUEUE_LIMIT", 3)
    bus = EventBus()
    _, slow = bus.subscribe()
    for i in range(3):
        bus.publish("volume", "create", f"v{i}")
    _, fast = bus.subscribe()
    assert bus.listeners == 2
    bus.publish("volume", "create", "v3")  # overflows the slow queue
    assert bus.listeners == 1
    assert await _next(slow) is None
    assert slow.queue.empty()
    assert (await _next(fast)).actor_id == "v3"  # type: ignore[union-attr]
    bus.publish("volume", "create", "v4")
    assert slow.queue.empty()


async def test_close_drops_every_subscriber() -> None:
    bus = EventBus()
    _, sub = bus.subscribe()
    bus.publish("volume", "create", "v1")
    bus.close()
    assert bus.listeners == 0
    assert await _next(sub) is None


def test_to_json_container_event() -> None:
    event = Event("container", "start", CID, {"image": "busybox", "name": "web"}, 1_700_000_000_123)
    assert event.to_json() == {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": CID, "Attributes": {"image": "busybox", "name": "web"}},
        "scope": "local",
        "time": 1700,
        "timeNano": 1_700_000_000_123,
        "status": "start",
        "id": CID,
        "from": "busybox",
    }


def test_to_json_image_event_without_image_attribute() -> None:
    message = Event("image", "pull", "busybox:latest", {"name": "busybox"}, 5).to_json()
    assert (message["status"], message["id"]) == ("pull", "busybox:latest")
    assert "from" not in message
    assert message["time"] == 0


def test_to_json_other_types_have_no_legacy_keys() -> None:
    message = Event("network", "connect", "n1", {"container": CID}, 2_000_000_000).to_json()
    assert message["time"] == 2
    assert message["Actor"] == {"ID": "n1", "Attributes": {"container": CID}}
    assert not {"status", "id", "from"} & message.keys()


def _ev(type_: str, action: str, actor: str, **attributes: str) -> Event:
    return Event(type_, action, actor, attributes, 0)


START = _ev("container", "start", CID, name="web", image="busybox:latest", app="shop")
HEALTH = _ev("container", "health_status: healthy", CID, name="web")
PULL = _ev("image", "pull", "sha256:" + "b" * 64, name="alpine:3.19")
NET = _ev("network", "connect", "n" * 64, name="bridge", container=CID)


def _matches(ev: Event, /, **values: list[str]) -> bool:
    return event_matches(ev, Filters(dict(values)))


def test_no_filters_match_everything() -> None:
    assert all(_matches(e) for e in (START, HEALTH, PULL, NET))


def test_filter_keys_include_dockerd_keys() -> None:
    assert {"type", "event", "container", "image", "label"} <= set(EVENT_FILTERS)


def test_type_filter() -> None:
    assert _matches(START, type=["container"])
    assert _matches(START, type=["image", "container"])
    assert not _matches(START, type=["image"])
    assert _matches(PULL, type=["image"])


def test_scope_filter() -> None:
    assert _matches(START, scope=["local"])
    assert not _matches(START, scope=["swarm"])


def test_event_filter() -> None:
    assert _matches(START, event=["start"])
    assert _matches(START, event=["die", "start"])
    assert not _matches(START, event=["stop"])
    assert not _matches(START, event=["sta"])


def test_health_status_event_filter() -> None:
    assert _matches(HEALTH, event=["health_status"])
    assert _matches(HEALTH, event=["health_status: healthy"])
    assert not _matches(HEALTH, event=["health_status: unhealthy"])
    assert not _matches(START, event=["health_status"])


def test_container_filter_by_name_and_id_prefix() -> None:
    assert _matches(START, container=["web"])
    assert _matches(START, container=[CID])
    assert _matches(START, container=[CID[:12]])
    assert _matches(START, container=["nope", "web"])
    assert not _matches(START, container=["db"])
    assert not _matches(START, container=["aaaa"])  # not a prefix of the ID


def test_container_filter_excludes_other_types() -> None:
    assert not _matches(PULL, container=["web"])
    assert not _matches(NET, container=[CID])


def test_network_filter() -> None:
    assert _matches(NET, network=["bridge"])
    assert _matches(NET, network=["nnnn"])
    assert not _matches(START, network=["bridge"])


def test_image_filter_on_container_events() -> None:
    assert _matches(START, image=["busybox:latest"])
    assert _matches(START, image=["busybox"])  # tag stripped
    assert not _matches(START, image=["alpine"])


def test_image_filter_on_image_events() -> None:
    assert _matches(PULL, image=["alpine:3.19"])
    assert _matches(PULL, image=["alpine"])
    assert _matches(PULL, image=[PULL.actor_id])
    assert not _matches(PULL, image=["busybox"])
    assert not _matches(NET, image=["busybox"])


def test_image_filter_with_registry_port() -> None:
    event = _ev("container", "start", CID, image="localhost:5000/app:1.0")
    assert _matches(event, image=["localhost:5000/app"])
    assert not _matches(event, image=["localhost"])


def test_label_filter() -> None:
    assert _matches(START, label=["app"])
    assert _matches(START, label=["app=shop"])
    assert not _matches(START, label=["app=blog"])
    assert not _matches(PULL, label=["app"])


def test_filters_are_anded() -> None:
    assert _matches(START, type=["container"], event=["start"], container=["web"])
    assert not _matches(START, type=["container"], event=["start"], container=["db"])
