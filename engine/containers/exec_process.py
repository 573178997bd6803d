"""The process ``docker exec`` runs, as dockerd's ContainerExecCreate and ContainerExecStart
build it: the container's own process settings (capabilities, rlimits, …) with the exec's
command, environment, user, working directory, terminal and initial console size (pure).

runc sizes the terminal inside the new process before it execs; crun (1.8 to this day) sizes it
from its parent just after letting the process go, so a program that asks at once may still
find 0x0 there for a moment.
"""

from __future__ import annotations

from typing import Any

from engine.containers.create_config import json_kind
from engine.containers.user import ExecUser
from engine.errors import InvalidParameter
from engine.runtime.oci_spec import DEFAULT_PATH_ENV, replace_or_append_env

ConsoleSize = tuple[int, int]  # (height, width)

_UINT_MAX = 2**64 - 1


def check_exec_types(body: dict[str, Any]) -> None:
    """The type errors Go's decoder reports for an ExecCreate body's plain fields."""
    for key in ("User", "WorkingDir", "DetachKeys"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise _type_error("ExecOptions", key, body[key], "string")
    for key in ("Tty", "Privileged", "AttachStdin", "AttachStdout", "AttachStderr", "Detach"):
        if body.get(key) is not None and not isinstance(body[key], bool):
            raise _type_error("ExecOptions", key, body[key], "bool")
    env = body.get("Env")
    if env is not None and not isinstance(env, list):
        raise _type_error("ExecOptions", "Env", env, "[]string")
    for item in env or []:
        if item is not None and not isinstance(item, str):
            raise _type_error("ExecOptions", "Env", item, "string")


def _type_error(struct: str, key: str, value: Any, go_type: str) -> InvalidParameter:
    return InvalidParameter(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {struct}.{key} "
        f"of type {go_type}"
    )


def decode_console_size(value: Any, struct: str) -> ConsoleSize | None:
    """``ConsoleSize`` as Go decodes it into ``*[2]uint``: null is unset, a shorter array is
    padded with zeros, elements past the second are skipped unread."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(struct, "ConsoleSize", value, "[2]uint")
    size = [0, 0]
    for index, item in enumerate(value[:2]):
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, int | float):
            kind = json_kind(item)
        elif isinstance(item, float) or not 0 <= item <= _UINT_MAX:
            kind = f"number {item!r}"
        else:
            size[index] = item
            continue
        raise InvalidParameter(
            f"json: cannot unmarshal {kind} into Go struct field {struct}.ConsoleSize of type uint"
        )
    return size[0], size[1]


def exec_environment(
    container_config: dict[str, Any], hostname: str, exec_env: list[str], tty: bool
) -> list[str]:
    """dockerd's CreateDaemonEnvironment for the exec's own TTY setting (TERM=xterm only with
    a TTY), then the container's Env, then the exec's."""
    defaults = [DEFAULT_PATH_ENV, f"HOSTNAME={hostname}"]
    if tty:
        defaults.append("TERM=xterm")
    container_env = replace_or_append_env(defaults, container_config.get("Env") or [])
    return replace_or_append_env(container_env, exec_env)


def _with_home(env: list[str], home: str) -> list[str]:
    # runc fills HOME from the user's passwd entry when the environment leaves it empty;
    # dockerd relies on that, and so does its exec.
    if any(e.partition("=")[0] == "HOME" and e.partition("=")[2] for e in env):
        return env
    return [e for e in env if e.partition("=")[0] != "HOME"] + [f"HOME={home}"]


def exec_process(
    container_process: dict[str, Any],
    config: dict[str, Any],
    env: list[str],
    user: ExecUser,
    console_size: ConsoleSize | None,
) -> dict[str, Any]:
    """The OCI process of an exec. ``config`` is its ExecCreate body, ``env`` what
    :func:`exec_environment` made of it, ``user`` the exec's user (or the container's)."""
    process = dict(container_process)
    tty = bool(config.get("Tty"))
    process["args"] = list(config["Cmd"])
    process["env"] = _with_home(env, user.home)
    process["terminal"] = tty
    if not tty:
        process.pop("consoleSize", None)
    elif console_size is not None:
        # Without a size of its own a TTY exec keeps the container's, as in dockerd. runc keeps
        # the low 16 bits of each number and applies no size with a zero in it.
        height, width = console_size[0] & 0xFFFF, console_size[1] & 0xFFFF
        process.pop("consoleSize", None)
        if height and width:
            process["consoleSize"] = {"height": height, "width": width}
    if config.get("WorkingDir"):
        process["cwd"] = config["WorkingDir"]
    if config.get("User"):
        process["user"] = {
            "uid": user.uid,
            "gid": user.gid,
            "additionalGids": list(user.additional_gids),
        }
    if config.get("Privileged"):
        process.pop("apparmorProfile", None)
    return process
