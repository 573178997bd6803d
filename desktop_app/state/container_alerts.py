"""``ContainerAlerts``: which engine events deserve a tray message. A container that exits with a
non-zero code on its own (``die`` with ``exitCode``) or turns ``health_status: unhealthy`` does;
one the user stopped or killed does not (the engine reports a ``kill`` before its ``die``), and
the same message for the same container is not repeated within a few seconds (a container in a
restart loop dies again and again). Pure and Qt-free: the tray shows what this returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.state.notification_settings import NotificationSettings
from desktop_app.state.rows import COMPOSE_PROJECT, short_id

DIED = "died"
UNHEALTHY = "unhealthy"
_UNHEALTHY_ACTION = "health_status: unhealthy"


@dataclass(frozen=True)
class Notice:
    """One tray message, about one container."""

    container_id: str
    kind: str  # DIED or UNHEALTHY
    title: str
    text: str


class ContainerAlerts:
    """Turns the ``/events`` stream into notices; ``decide`` is given every event in order."""

    def __init__(
        self,
        notifications: NotificationSettings,
        repeat_after: float = 5.0,
        stop_grace: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifications = notifications
        self.repeat_after = repeat_after
        #: how long after a ``kill`` a ``die`` still counts as the user's doing (``docker stop``
        #: waits up to its timeout before it sends SIGKILL)
        self.stop_grace = stop_grace
        self._clock = clock
        self._killed: dict[str, float] = {}
        self._oom: set[str] = set()
        self._shown: dict[tuple[str, str], float] = {}

    def decide(self, event: dict[str, Any]) -> Notice | None:
        """The notice ``event`` calls for, or None. Events are followed whether notifications
        are on or not, so turning them on in the middle of a ``docker stop`` stays quiet."""
        if event.get("Type") != "container":
            return None
        action = str(event.get("Action", ""))
        actor = event.get("Actor") or {}
        container_id = str(actor.get("ID") or event.get("id") or "")
        attributes: dict[str, Any] = actor.get("Attributes") or {}
        if not container_id:
            return None
        now = self._clock()
        notice: Notice | None = None
        if action == "kill":
            self._killed[container_id] = now
        elif action == "oom":
            self._oom.add(container_id)
        elif action == "die":
            notice = self._died(container_id, attributes, now)
        elif action == _UNHEALTHY_ACTION:
            notice = unhealthy_notice(container_id, attributes)
        elif action == "destroy":
            self._forget(container_id)
        if notice is None or not self.notifications.enabled or self._repeated(notice, now):
            return None
        self._shown[(notice.container_id, notice.kind)] = now
        return notice

    def _died(self, container_id: str, attributes: dict[str, Any], now: float) -> Notice | None:
        killed = self._killed.pop(container_id, None)
        oom = container_id in self._oom
        self._oom.discard(container_id)
        code = exit_code(attributes)
        if not code:
            return None
        if killed is not None and now - killed <= self.stop_grace and not oom:
            return None
        return died_notice(container_id, attributes, code, oom)

    def _repeated(self, notice: Notice, now: float) -> bool:
        last = self._shown.get((notice.container_id, notice.kind))
        if len(self._shown) > 256:  # forget old ones; only the last few seconds matter
            self._shown = {k: t for k, t in self._shown.items() if now - t < self.repeat_after}
        return last is not None and now - last < self.repeat_after

    def _forget(self, container_id: str) -> None:
        self._killed.pop(container_id, None)
        self._oom.discard(container_id)


def exit_code(attributes: dict[str, Any]) -> int:
    """The ``exitCode`` attribute of a ``die`` event (0 when it is missing or not a number)."""
    try:
        return int(str(attributes.get("exitCode", "0")))
    except ValueError:
        return 0


def describe(container_id: str, attributes: dict[str, Any]) -> tuple[str, str]:
    """(the container's name, "name (image, Compose project p)") for a notice."""
    name = str(attributes.get("name") or short_id(container_id))
    details = [str(attributes["image"])] if attributes.get("image") else []
    if attributes.get(COMPOSE_PROJECT):
        details.append(f"Compose project {attributes[COMPOSE_PROJECT]}")
    return name, f"{name} ({', '.join(details)})" if details else name


def died_notice(container_id: str, attributes: dict[str, Any], code: int, oom: bool) -> Notice:
    name, who = describe(container_id, attributes)
    text = f"{who} exited with code {code}"
    text += ": it ran out of memory." if oom else "."
    return Notice(container_id, DIED, f"Container {name} failed", text)


def unhealthy_notice(container_id: str, attributes: dict[str, Any]) -> Notice:
    name, who = describe(container_id, attributes)
    text = f"The health check of {who} is failing."
    return Notice(container_id, UNHEALTHY, f"Container {name} is unhealthy", text)
