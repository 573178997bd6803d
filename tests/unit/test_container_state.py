"""engine.containers.state: which verb may run in which status, and dockerd's refusals.

Expected answers follow dockerd (daemon/start.go, stop.go, kill.go, pause.go, unpause.go,
exec.go, attach.go, delete.go, errors.go); the capitalised messages are those of dockerd 24.
"""

from __future__ import annotations

import pytest

from engine.containers.state import ALLOWED, Status, check, is_running
from engine.errors import Conflict, EngineError, NotModified

NAME = "web"
VERBS = (
    "start",
    "stop",
    "kill",
    "pause",
    "unpause",
    "exec",
    "attach",
    "remove",
    "rename",
    "update",
)

S = Status
NOT_RUNNING = (Conflict, f"Container {NAME} is not running")
NOT_PAUSED = (Conflict, f"Container {NAME} is not paused")
IN_REMOVAL = (Conflict, f"removal of container {NAME} is already in progress")
ALREADY_STARTED = (NotModified, "container already started")
ALREADY_STOPPED = (NotModified, "container already stopped")
RM_RUNNING = (
    Conflict,
    f"You cannot remove a running container {NAME}. Stop the container before attempting "
    "removal or force remove",
)
RM_PAUSED = (
    Conflict,
    f"You cannot remove a paused container {NAME}. Unpause and then stop the container before "
    "attempting removal or force remove",
)
EXEC_PAUSED = (Conflict, f"Container {NAME} is paused, unpause the container before exec")
ALREADY_PAUSED = (Conflict, f"Container {NAME} is already paused")

# (verb, status) -> None when allowed, else (exception class, exact message).
# Cells where this engine once disagreed with dockerd are kept apart in DIFFERS below.
AGREED: dict[tuple[str, Status], tuple[type[EngineError], str] | None] = {
    ("start", S.CREATED): None,
    ("start", S.EXITED): None,
    ("start", S.RUNNING): ALREADY_STARTED,
    ("start", S.RESTARTING): ALREADY_STARTED,
    ("stop", S.RUNNING): None,
    ("stop", S.PAUSED): None,
    ("stop", S.RESTARTING): None,
    ("stop", S.CREATED): ALREADY_STOPPED,
    ("stop", S.EXITED): ALREADY_STOPPED,
    ("stop", S.DEAD): ALREADY_STOPPED,
    ("kill", S.RUNNING): None,
    ("kill", S.PAUSED): None,
    ("kill", S.RESTARTING): None,
    ("kill", S.CREATED): NOT_RUNNING,
    ("kill", S.EXITED): NOT_RUNNING,
    ("kill", S.DEAD): NOT_RUNNING,
    ("pause", S.RUNNING): None,
    ("pause", S.PAUSED): ALREADY_PAUSED,
    ("pause", S.CREATED): NOT_RUNNING,
    ("pause", S.EXITED): NOT_RUNNING,
    ("pause", S.DEAD): NOT_RUNNING,
    ("unpause", S.PAUSED): None,
    ("unpause", S.RUNNING): NOT_PAUSED,
    ("unpause", S.RESTARTING): NOT_PAUSED,
    ("unpause", S.CREATED): NOT_PAUSED,
    ("unpause", S.EXITED): NOT_PAUSED,
    ("unpause", S.DEAD): NOT_PAUSED,
    ("exec", S.RUNNING): None,
    ("exec", S.PAUSED): EXEC_PAUSED,
    ("exec", S.CREATED): NOT_RUNNING,
    ("exec", S.EXITED): NOT_RUNNING,
    ("exec", S.DEAD): NOT_RUNNING,
    ("attach", S.CREATED): None,
    ("attach", S.RUNNING): None,
    ("attach", S.EXITED): None,
    ("attach", S.DEAD): None,
    ("attach", S.REMOVING): None,
    ("remove", S.CREATED): None,
    ("remove", S.EXITED): None,
    ("remove", S.DEAD): None,
    ("remove", S.RUNNING): RM_RUNNING,
    ("remove", S.PAUSED): RM_PAUSED,
    ("remove", S.REMOVING): IN_REMOVAL,
    ("rename", S.CREATED): None,
    ("rename", S.RUNNING): None,
    ("rename", S.PAUSED): None,
    ("rename", S.RESTARTING): None,
    ("rename", S.EXITED): None,
    ("rename", S.DEAD): None,
    ("rename", S.REMOVING): IN_REMOVAL,
    ("update", S.CREATED): None,
    ("update", S.RUNNING): None,
    ("update", S.PAUSED): None,
    ("update", S.RESTARTING): None,
    ("update", S.EXITED): None,
}

# dockerd refuses these too, with its own wording ('Cannot update container X: container is
# marked for removal and cannot be "update"'); only the refusal and its class are checked.
UPDATE_REFUSED = ((S.DEAD,), (S.REMOVING,))

# dockerd's answer where this engine used to differ (start on paused, 'removing' as a
# stopped container, restarting/paused refusals, the 'marked for removal' text).
DIFFERS: dict[tuple[str, Status], tuple[type[EngineError], str] | None] = {
    ("start", S.PAUSED): (Conflict, "cannot start a paused container, try unpause instead"),
    ("start", S.DEAD): (Conflict, "container is marked for removal and cannot be started"),
    ("start", S.REMOVING): (Conflict, "container is marked for removal and cannot be started"),
    # "removing" is a stopped container in dockerd (State.StateString), so it answers as such.
    ("stop", S.REMOVING): ALREADY_STOPPED,
    ("kill", S.REMOVING): NOT_RUNNING,
    ("pause", S.REMOVING): NOT_RUNNING,
    ("unpause", S.REMOVING): NOT_PAUSED,
    ("exec", S.REMOVING): NOT_RUNNING,
    ("pause", S.RESTARTING): (
        Conflict,
        f"Container {NAME} is restarting, wait until the container is running",
    ),
    ("exec", S.RESTARTING): (
        Conflict,
        f"Container {NAME} is restarting, wait until the container is running",
    ),
    ("attach", S.PAUSED): (
        Conflict,
        f"container {NAME} is paused, unpause the container before attach",
    ),
    ("attach", S.RESTARTING): (
        Conflict,
        f"container {NAME} is restarting, wait until the container is running",
    ),
    ("remove", S.RESTARTING): (
        Conflict,
        f"You cannot remove a restarting container {NAME}. Stop the container before "
        "attempting removal or force remove",
    ),
}


def _outcome(verb: str, status: Status) -> tuple[type[EngineError], str] | None:
    try:
        check(status, verb, NAME)
    except EngineError as exc:
        return type(exc), exc.message
    return None


def test_the_tables_cover_every_verb_and_status() -> None:
    cells = {(verb, status) for verb in VERBS for status in Status}
    update_refused = {("update", status) for (status,) in UPDATE_REFUSED}
    assert set(AGREED) | set(DIFFERS) | update_refused == cells
    assert not set(AGREED) & set(DIFFERS)
    assert set(ALLOWED) == set(VERBS)


@pytest.mark.parametrize(("verb", "status"), list(AGREED), ids=lambda v: str(v))
def test_verb_in_status(verb: str, status: Status) -> None:
    assert _outcome(verb, status) == AGREED[(verb, status)]


@pytest.mark.parametrize("status", [s for (s,) in UPDATE_REFUSED])
def test_update_is_refused_while_dead_or_being_removed(status: Status) -> None:
    with pytest.raises(Conflict):
        check(status, "update", NAME)


@pytest.mark.parametrize(("verb", "status"), list(DIFFERS), ids=lambda v: str(v))
def test_verb_in_status_as_dockerd_answers(verb: str, status: Status) -> None:
    assert _outcome(verb, status) == DIFFERS[(verb, status)]


def test_not_modified_is_not_a_conflict() -> None:
    # The API maps the class to the status code: 304 must not turn into a 409.
    with pytest.raises(NotModified) as info:
        check(Status.RUNNING, "start", NAME)
    assert not isinstance(info.value, Conflict)


def test_status_values_are_dockers_state_strings() -> None:
    assert [s.value for s in Status] == [
        "created",
        "running",
        "paused",
        "restarting",
        "removing",
        "exited",
        "dead",
    ]


@pytest.mark.parametrize(
    ("status", "running"),
    [
        (S.CREATED, False),
        (S.RUNNING, True),
        (S.PAUSED, True),
        (S.RESTARTING, True),
        (S.REMOVING, False),
        (S.EXITED, False),
        (S.DEAD, False),
    ],
)
def test_is_running(status: Status, running: bool) -> None:
    assert is_running(status) is running
