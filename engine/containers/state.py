"""A container's status and the legal moves between statuses, in one table.

The API's 304 and 409 answers come from here: an operation asks ``check(status, verb)``
before it touches the runtime.
"""

from __future__ import annotations

from enum import StrEnum

from engine.errors import Conflict, NotModified


class Status(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


# verb -> statuses it may start from; anything else is refused with the answer in _REFUSALS.
ALLOWED: dict[str, frozenset[Status]] = {
    "start": frozenset({Status.CREATED, Status.EXITED}),
    "stop": frozenset({Status.RUNNING, Status.PAUSED, Status.RESTARTING}),
    "kill": frozenset({Status.RUNNING, Status.PAUSED, Status.RESTARTING}),
    "pause": frozenset({Status.RUNNING}),
    "unpause": frozenset({Status.PAUSED}),
    "exec": frozenset({Status.RUNNING}),
    "attach": frozenset(Status),
    "remove": frozenset({Status.CREATED, Status.EXITED, Status.DEAD}),
    "rename": frozenset(Status) - {Status.REMOVING},
    "update": frozenset(Status) - {Status.REMOVING, Status.DEAD},
}


def is_running(status: Status) -> bool:
    return status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)


def check(status: Status, verb: str, name: str) -> None:
    """Raise the error dockerd gives when ``verb`` is not allowed in ``status``."""
    if status in ALLOWED[verb]:
        return
    if status is Status.REMOVING:
        raise Conflict(f"removal of container {name} is already in progress")
    if verb == "start" and is_running(status):
        raise NotModified("container already started")
    if verb == "stop":
        raise NotModified("container already stopped")
    if verb == "exec" and status is Status.PAUSED:
        raise Conflict(f"Container {name} is paused, unpause the container before exec")
    if verb in ("kill", "exec"):
        raise Conflict(f"Container {name} is not running")
    if verb == "pause":
        if status is Status.PAUSED:
            raise Conflict(f"Container {name} is already paused")
        raise Conflict(f"Container {name} is not running")
    if verb == "unpause":
        raise Conflict(f"Container {name} is not paused")
    if verb == "remove":
        if status is Status.PAUSED:
            raise Conflict(
                f"You cannot remove a paused container {name}. Unpause and then stop the "
                "container before attempting removal or force remove"
            )
        raise Conflict(
            f"You cannot remove a running container {name}. Stop the container before "
            "attempting removal or force remove"
        )
    raise Conflict(f"cannot {verb} container {name} while it is {status.value}")
