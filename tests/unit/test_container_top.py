"""engine.containers.top and engine.runtime.ps: ``docker top`` from the host's ps."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from engine.containers.model import ContainerRecord
from engine.containers.state import Status
from engine.containers.top import (
    check_can_top,
    custom_fields,
    parse_ps_output,
    ps_argv,
    top,
    top_container,
)
from engine.errors import Conflict, SystemError_
from engine.runtime.ps import run_ps

PS_EF = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 09:12 ?        00:00:02 /sbin/init splash
root         812       1  0 09:12 ?        00:00:00 /usr/bin/conmon --api-version 1 -c 4f9d
root         815     812  0 09:12 ?        00:00:00 sleep 1000
root         901     815  0 09:13 pts/0    00:00:00 /bin/sh -c echo  two  spaces
daemon       950       1  0 09:14 ?        00:00:00 /usr/sbin/atd -f
"""

PS_AUX = """\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167744 11900 ?        Ss   09:12   0:02 /sbin/init splash
root         815  0.0  0.0   2792  1000 ?        Ss   09:12   0:00 sleep 1000
root         901  0.1  0.0   2888   980 pts/0    S+   09:13   0:00 /bin/sh -c echo hi
"""

# `ps -em -o pid,tid,comm`: thread rows have "-" as PID and belong to the row above them
PS_THREADS = """\
    PID     TID COMMAND
    815       - app
      -     815 -
      -     816 -
    950       - atd
      -     950 -
"""


def test_ps_ef_keeps_the_containers_rows() -> None:
    listing = parse_ps_output(PS_EF, [815, 901])
    assert listing["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert listing["Processes"] == [
        ["root", "815", "812", "0", "09:12", "?", "00:00:00", "sleep 1000"],
        # the last column takes the rest of the line, runs of blanks squeezed as dockerd does
        ["root", "901", "815", "0", "09:13", "pts/0", "00:00:00", "/bin/sh -c echo two spaces"],
    ]


def test_ps_aux_finds_pid_in_the_second_column() -> None:
    listing = parse_ps_output(PS_AUX, [815])
    assert listing["Titles"][1] == "PID"
    assert listing["Titles"][-1] == "COMMAND"
    assert listing["Processes"] == [
        ["root", "815", "0.0", "0.0", "2792", "1000", "?", "Ss", "09:12", "0:00", "sleep 1000"]
    ]


def test_no_matching_pids_gives_an_empty_list() -> None:
    listing = parse_ps_output(PS_EF, [4242])
    assert len(listing["Titles"]) == 8
    assert listing["Processes"] == []


def test_thread_rows_follow_their_process() -> None:
    listing = parse_ps_output(PS_THREADS, [815])
    assert listing["Processes"] == [
        ["815", "-", "app"],
        ["-", "815", "-"],
        ["-", "816", "-"],
    ]


def test_extra_pid_column_is_matched_and_hidden() -> None:
    output = "  PID COMMAND\n  815 sleep\n  950 atd\n"
    listing = parse_ps_output(output, [815], extra_pid_column=True)
    assert listing == {"Titles": ["COMMAND"], "Processes": [["sleep"]]}


def test_missing_pid_column_is_an_error() -> None:
    with pytest.raises(SystemError_, match="Couldn't find PID field in ps output"):
        parse_ps_output("USER COMMAND\nroot sleep\n", [1])
    with pytest.raises(SystemError_, match="Couldn't find PID field in ps output"):
        parse_ps_output("COMMAND\nsleep\n", [1], extra_pid_column=True)


def test_a_pid_that_is_not_a_number_is_an_error() -> None:
    with pytest.raises(SystemError_, match="Unexpected pid 'abc'"):
        parse_ps_output("PID CMD\nabc sleep\n", [1])


# Which arguments ps gets


@pytest.mark.parametrize(
    ("ps_args", "argv", "extra"),
    [
        ("", ["-ef"], False),
        ("aux", ["aux"], False),
        ("-eLf", ["-eLf"], False),
        ("-o pid,comm", ["-opid", "-o", "pid,comm"], True),
        ("-ocomm", ["-opid", "-ocomm"], True),
        ("axo user,comm", ["-opid", "axo", "user,comm"], True),
        ("--format=comm", ["-opid", "--format=comm"], True),
        ("-C ocmd", ["-C", "ocmd"], False),  # ocmd is -C's value, not the o option
        ("eUocmd", ["eUocmd"], False),  # after U the rest is its value
        ("aux  -ww", ["aux", "-ww"], False),
    ],
)
def test_ps_argv(ps_args: str, argv: list[str], extra: bool) -> None:
    assert ps_argv(ps_args) == (argv, extra)


def test_custom_fields_skips_option_values() -> None:
    assert not custom_fields(["-u", "ocmd"])
    assert not custom_fields(["--user", "ocmd"])
    assert custom_fields(["--user=root", "-o", "comm"])
    assert custom_fields(["efocmd"])


def test_top_runs_ps_with_the_chosen_arguments() -> None:
    calls: list[tuple[list[str], list[int]]] = []

    def fake_ps(args: Sequence[str], pids: Sequence[int]) -> str:
        calls.append((list(args), list(pids)))
        return "  PID COMMAND\n  815 sleep\n"

    assert top([815], "-o comm", run=fake_ps) == {"Titles": ["COMMAND"], "Processes": [["sleep"]]}
    assert calls == [(["-opid", "-o", "comm"], [815])]


# The real ps


def test_real_ps_finds_this_process() -> None:
    output = run_ps(["-ef"])
    assert output.splitlines()[0].split()[1] == "PID"
    listing = top([os.getpid()], "-ef")
    assert len(listing["Processes"]) == 1
    row = listing["Processes"][0]
    assert row[listing["Titles"].index("PID")] == str(os.getpid())


def test_real_ps_with_custom_columns_and_pid_filter() -> None:
    listing = top([os.getpid(), 1], "-o comm")
    assert listing["Titles"] == ["COMMAND"]
    assert len(listing["Processes"]) == 2


def test_real_ps_retries_without_q_for_forest_listings() -> None:
    listing = top([os.getpid()], "-ef f")  # procps refuses -q with a forest
    assert [row[1] for row in listing["Processes"]] == [str(os.getpid())]


def test_real_ps_failure_reports_its_complaint() -> None:
    with pytest.raises(SystemError_, match=r"^ps: .+"):
        run_ps(["--no-such-option"])


# Containers that cannot be listed


def record(status: Status) -> ContainerRecord:
    rec = ContainerRecord(
        id="4f9d" * 16,
        name="/web",
        created="2024-05-01T10:00:00Z",
        image_id="sha256:" + "0" * 64,
        image="busybox",
        config={},
        host_config={},
        path="sleep",
        args=["1000"],
    )
    rec.state.status = status
    return rec


@pytest.mark.parametrize("status", [Status.CREATED, Status.EXITED, Status.DEAD])
def test_stopped_container_is_a_conflict(status: Status) -> None:
    with pytest.raises(Conflict, match=f"^Container {'4f9d' * 16} is not running$"):
        check_can_top(record(status))


def test_restarting_container_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="is restarting, wait until the container is running"):
        check_can_top(record(Status.RESTARTING))


class FakeRuntime:
    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    async def ps(self, container_id: str) -> list[int]:
        return self.pids


async def test_top_container_lists_a_running_containers_processes() -> None:
    runtime = FakeRuntime([os.getpid()])
    listing = await top_container(record(Status.RUNNING), runtime, "")  # type: ignore[arg-type]
    assert [row[1] for row in listing["Processes"]] == [str(os.getpid())]
    paused = await top_container(record(Status.PAUSED), runtime, "aux")  # type: ignore[arg-type]
    assert len(paused["Processes"]) == 1
