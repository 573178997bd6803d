"""``docker top``: the host's ``ps`` output, cut down to the container's processes.

Follows dockerd's daemon/top_unix.go: ``ps_args`` (default ``-ef``) are split on spaces and
given to the host's ps; when they pick the columns (``-o``, ``o``, ``--format``) ``-opid`` goes
first so the PID can be matched, and that extra column is dropped again. Rows are kept when
their PID belongs to the container, along with the thread rows (PID ``-``) that follow such a
row (``ps -eLf`` / ``m``). The last column soaks up the rest of the line, as commands have spaces.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

from engine.containers.model import ContainerRecord
from engine.containers.state import Status, is_running
from engine.errors import Conflict, SystemError_
from engine.runtime.oci import OciRuntime
from engine.runtime.ps import run_ps

DEFAULT_PS_ARGS = "-ef"
# Go's fieldsASCII: only ASCII blanks separate columns, so a command with a non-breaking
# space stays one field.
_FIELD = re.compile(r"[^\t\n\f\r ]+")

# Options whose value is the next argument, so that value is not read as more options.
_LONG_WITH_VALUE = frozenset(
    "--cols --columns --Group --group --lines --pid --ppid --quick-pid --rows --sid --sort"
    " --tty --User --user --width".split()
)
_SHORT_WITH_VALUE = frozenset("-C -G -g -O -p -q -s -t -u -U".split())
_BSD_WITH_VALUE = frozenset("pqtUOk")


def _fields(line: str) -> list[str]:
    return _FIELD.findall(line)


def _picks_columns(arg: str) -> tuple[bool, bool]:
    """(this argument selects the output columns, the next argument is its value)."""
    if arg.startswith("--") and len(arg) > 2:
        name, eq, _ = arg.partition("=")
        if name == "--format":
            return True, False
        if name in _LONG_WITH_VALUE:
            return False, not eq
    if len(arg) >= 2 and arg[0] == "-":
        if arg[:2] == "-o":
            return True, False
        if arg[:2] in _SHORT_WITH_VALUE:
            return False, len(arg) == 2
    for index, char in enumerate(arg):  # BSD letters, possibly several: "efocmd"
        if char == "o":
            return True, False
        if char in _BSD_WITH_VALUE:  # the rest of the word is this option's value
            return False, index == len(arg) - 1
    return False, False


def custom_fields(args: Sequence[str]) -> bool:
    """Whether ``args`` choose ps's columns (``-o``, ``o``, ``--format``), as dockerd decides."""
    skip = False
    for arg in args:
        if skip:  # the value of the previous option
            skip = False
            continue
        if arg.startswith(("-o", "o", "--format")):
            return True
        found, skip = _picks_columns(arg)
        if found:
            return True
    return False


def ps_argv(ps_args: str) -> tuple[list[str], bool]:
    """ps's arguments for ``ps_args``, and whether a leading PID column was added to them."""
    if not ps_args:
        return DEFAULT_PS_ARGS.split(), False
    # dockerd splits on spaces without quote handling: the docker CLI has already joined the
    # user's words with single spaces.
    args = [arg for arg in ps_args.split(" ") if arg]
    if custom_fields(args):
        return ["-opid", *args], True
    return args, False


def parse_ps_output(
    output: str, pids: Sequence[int], extra_pid_column: bool = False
) -> dict[str, Any]:
    """``{"Titles": […], "Processes": [[…], …]}`` for the rows of ``pids`` in a ps output (pure).

    Raises SystemError_ (as dockerd, HTTP 500) when there is no PID column or a PID is not a
    number.
    """
    lines = output.split("\n")
    titles = _fields(lines[0])
    no_pid = SystemError_("Couldn't find PID field in ps output")
    if extra_pid_column:  # "-opid" was put first: PID is column 0, and not shown
        if not titles or titles[0] != "PID":
            raise no_pid
        pid_index, first = 0, 1
        titles = titles[1:]
    elif "PID" in titles:
        pid_index, first = titles.index("PID"), 0
    else:
        raise no_pid
    wanted = set(pids)
    processes: list[list[str]] = []

    def add(fields: list[str]) -> None:
        row = fields[first:]
        processes.append([*row[: len(titles) - 1], " ".join(row[len(titles) - 1 :])])

    follows_ours = False  # thread rows ("-" as PID) belong to the process row above them
    for line in lines[1:]:
        fields = _fields(line)
        if len(fields) <= pid_index:
            continue
        text = fields[pid_index]
        if text == "-":
            if follows_ours:
                add(fields)
            continue
        try:
            pid = int(text)
        except ValueError:
            raise SystemError_(
                f"Unexpected pid '{text}': strconv.Atoi: parsing \"{text}\": invalid syntax"
            ) from None
        follows_ours = pid in wanted
        if follows_ours:
            add(fields)
    return {"Titles": titles, "Processes": processes}


def top(
    pids: Sequence[int],
    ps_args: str = "",
    *,
    run: Callable[[Sequence[str], Sequence[int]], str] = run_ps,
) -> dict[str, Any]:
    """Run ps with ``ps_args`` and keep the rows of ``pids`` (blocking: call from an executor)."""
    args, extra_pid_column = ps_argv(ps_args)
    return parse_ps_output(run(args, pids), pids, extra_pid_column)


def check_can_top(record: ContainerRecord) -> None:
    """Raise dockerd's Conflict for a container that has no processes to list."""
    if not is_running(record.state.status):
        raise Conflict(f"Container {record.id} is not running")
    if record.state.status is Status.RESTARTING:
        raise Conflict(f"Container {record.id} is restarting, wait until the container is running")


async def top_container(
    record: ContainerRecord, runtime: OciRuntime, ps_args: str = ""
) -> dict[str, Any]:
    """``GET /containers/{id}/top``: the container's processes as the host's ps shows them."""
    check_can_top(record)
    pids = await runtime.ps(record.id)
    return await asyncio.to_thread(top, pids, ps_args)
