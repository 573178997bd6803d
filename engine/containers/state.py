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


# verb -> statuses it may start from; anything else is refused with the answer ``check`` gives.
ALLOWED: dict[str, frozenset[Status]] = {
    "start": frozenset({Status.CREATED, Status.EXITED}),
    "stop": frozenset({Status.RUNNING, Status.PAUSED, Status.RESTARTING}),
    "kill": frozenset({Status.RUNNING, Status.PAUSED, Status.RESTARTING}),
    "pause": frozenset({Status.RUNNING}),
    "unpause": frozenset({Status.PAUSED}),
    "exec": frozenset({Status.RUNNING}),
    "attach": frozenset(Status) - {Status.PAUSED, Status.RESTARTING},
    "remove": frozenset({Status.CREATED, Status.EXITED, Status.DEAD}),
    "rename": frozenset(Status) - {Status.REMOVING},
    "update": frozenset(Status) - {Status.REMOVING, Status.DEAD},
}


def is_running(status: Status) -> bool:
    return status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)


def _restarting(name: str) -> Conflict:
    return Conflict(f"Container {name} is restarting, wait until the container is running")


def check(status: Status, verb: str, name: str) -> None:
    """Raise the error dockerd gives when ``verb`` is not allowed in ``status``.

    The order of the tests follows dockerd's: a container being removed is not running
    (State.StateString), so stop/kill/pause/unpause/exec answer it as a stopped one.
    """
    if status in ALLOWED[verb]:
        return
    running = is_running(status)
    if verb == "start":  # daemon/start.go
        if status is Status.PAUSED:
            raise Conflict("cannot start a paused container, try unpause instead")
        if running:
            raise NotModified("container already started")
        if status in (Status.REMOVING, Status.DEAD):
            raise Conflict("container is marked for removal and cannot be started")
    elif verb == "stop":  # daemon/stop.go
        raise NotModified("container already stopped")
    elif verb == "kill":  # daemon/kill.go
        raise Conflict(f"Container {name} is not running")
    elif verb == "pause":  # daemon/pause.go
        if not running:
            raise Conflict(f"Container {name} is not running")
        if status is Status.PAUSED:
            raise Conflict(f"Container {name} is already paused")
        raise _restarting(name)
    elif verb == "unpause":  # daemon/unpause.go
        raise Conflict(f"Container {name} is not paused")
    elif verb == "exec":  # daemon/exec.go getExecConfig
        if not running:
            raise Conflict(f"Container {name} is not running")
        if status is Status.PAUSED:
            raise Conflict(f"Container {name} is paused, unpause the container before exec")
        raise _restarting(name)
    elif verb == "attach":  # daemon/attach.go
        if status is Status.PAUSED:
            raise Conflict(f"container {name} is paused, unpause the container before attach")
        raise Conflict(f"container {name} is restarting, wait until the container is running")
    elif verb == "remove" and running:  # daemon/delete.go
        procedure = "Stop the container before attempting removal or force remove"
        if status is Status.PAUSED:
            procedure = "Unpause and then " + procedure.lower()
        raise Conflict(f"You cannot remove a {status.value} container {name}. {procedure}")
    if status is Status.REMOVING:
        raise Conflict(f"removal of container {name} is already in progress")
    raise Conflict(f"cannot {verb} container {name} while it is {status.value}")
