"""Instructions that change only the image's config: ENV, LABEL, CMD, ENTRYPOINT, EXPOSE,
VOLUME, USER, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER.

Each handler updates the stage's config and returns the text of its history entry, as the
classic builder writes it after ``#(nop)``. Pure: no disk, no containers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from engine.build.dockerfile import Instruction, key_values, parse_flags
from engine.build.durations import format_duration, parse_duration
from engine.build.stage import Stage
from engine.build.words import Words
from engine.containers.signals import parse_signal
from engine.errors import InvalidParameter

Handler = Callable[[Stage, Instruction, Words], str]


def _go_list(items: list[str]) -> str:
    """How Go's ``%q`` prints a []string: ``["a" "b"]``."""
    return "[" + " ".join(orjson.dumps(i).decode() for i in items) + "]"


def _go_rune(value: int) -> str:
    """How Go's ``%q`` prints an integer: as a quoted character."""
    char = chr(value)
    if char.isprintable() and char not in "'\\":
        return f"'{char}'"
    return f"'\\x{value:02x}'" if value < 0x80 else f"'\\u{value:04x}'"


def command(stage: Stage, inst: Instruction) -> list[str]:
    """CMD/ENTRYPOINT/RUN's command: the exec form as is, else the shell form in the shell."""
    if inst.json is not None:
        return list(inst.json)
    return [*stage.shell, inst.rest]


def env(stage: Stage, inst: Instruction, words: Words) -> str:
    pairs = [(words.word(k), words.word(v)) for k, v in key_values(inst)]
    for key, value in pairs:
        if not key:
            raise InvalidParameter("ENV names can not be blank")
        stage.set_env(key, value)
    return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)


def label(stage: Stage, inst: Instruction, words: Words) -> str:
    pairs = [(words.word(k), words.word(v)) for k, v in key_values(inst)]
    labels = dict(stage.config.get("Labels") or {})
    for key, value in pairs:
        if not key:
            raise InvalidParameter("LABEL names can not be blank")
        labels[key] = value
    stage.config["Labels"] = labels
    return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)


def cmd(stage: Stage, inst: Instruction, words: Words) -> str:
    stage.config["Cmd"] = command(stage, inst)
    stage.cmd_set = bool(stage.config["Cmd"])
    return "CMD " + _go_list(stage.config["Cmd"])


def entrypoint(stage: Stage, inst: Instruction, words: Words) -> str:
    given = inst.json if inst.json is not None else inst.rest
    stage.config["Entrypoint"] = command(stage, inst) if given else None
    # As Docker: an ENTRYPOINT resets a CMD inherited from the base image.
    if not stage.cmd_set:
        stage.config["Cmd"] = None
    return "ENTRYPOINT " + _go_list(stage.config["Entrypoint"] or [])


def _port_keys(spec: str) -> list[str]:
    number, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidParameter(f"invalid proto: {proto}")
    first, dash, last = number.partition("-")
    try:
        start = int(first)
        end = int(last) if dash else start
    except ValueError as exc:
        raise InvalidParameter(f"invalid containerPort: {number}") from exc
    if not (0 < start <= end < 65536):
        raise InvalidParameter(f"invalid containerPort: {number}")
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def expose(stage: Stage, inst: Instruction, words: Words) -> str:
    specs = words.words(inst.rest)
    if not specs:
        raise InvalidParameter("EXPOSE requires at least one argument")
    ports = dict(stage.config.get("ExposedPorts") or {})
    added = [key for spec in specs for key in _port_keys(spec)]
    for key in added:
        ports[key] = {}
    stage.config["ExposedPorts"] = ports
    return "EXPOSE " + " ".join(sorted(specs))


def volume(stage: Stage, inst: Instruction, words: Words) -> str:
    paths = [words.word(p) for p in inst.json] if inst.json is not None else words.words(inst.rest)
    if not paths:
        raise InvalidParameter("VOLUME requires at least one argument")
    volumes = dict(stage.config.get("Volumes") or {})
    for path in paths:
        if not path.strip():
            raise InvalidParameter("VOLUME specified can not be an empty string")
        volumes[path.strip()] = {}
    stage.config["Volumes"] = volumes
    return "VOLUME [" + " ".join(paths) + "]"


def user(stage: Stage, inst: Instruction, words: Words) -> str:
    name = words.word(inst.rest)
    stage.config["User"] = name
    return f"USER {name}"


def stopsignal(stage: Stage, inst: Instruction, words: Words) -> str:
    name = words.word(inst.rest)
    parse_signal(name)  # refuses unknown names as dockerd does
    stage.config["StopSignal"] = name
    return f"STOPSIGNAL {name}"


_HEALTH_FLAGS = {
    "interval": "Interval",
    "timeout": "Timeout",
    "start-period": "StartPeriod",
    "start-interval": "StartInterval",
}


def healthcheck(stage: Stage, inst: Instruction, words: Words) -> str:
    flags = parse_flags(inst, {**{k: str for k in _HEALTH_FLAGS}, "retries": str})
    keyword, rest = ([*inst.rest.split(None, 1), "", ""])[:2]
    if keyword.upper() == "NONE":
        if rest.strip() or flags:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        stage.config["Healthcheck"] = {"Test": ["NONE"]}
        return 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
    if keyword.upper() != "CMD":
        raise InvalidParameter("Unknown type " + repr(keyword) + " in HEALTHCHECK (try CMD)")
    rest = rest.strip()
    if not rest:
        raise InvalidParameter("Missing command after HEALTHCHECK CMD")
    try:
        exec_form = orjson.loads(rest) if rest.startswith("[") else None
    except orjson.JSONDecodeError:
        exec_form = None
    if isinstance(exec_form, list) and all(isinstance(x, str) for x in exec_form):
        test = ["CMD", *exec_form]
    else:
        test = ["CMD-SHELL", rest]
    check: dict[str, Any] = {"Test": test}
    for flag, key in _HEALTH_FLAGS.items():
        if flag in flags:
            try:
                value = parse_duration(str(flags[flag]))
            except ValueError as exc:
                raise InvalidParameter(str(exc)) from exc
            if value < 0 or (0 < value < 1_000_000):
                raise InvalidParameter(f"{key} cannot be less than 1ms")
            check[key] = value
    if "retries" in flags:
        try:
            retries = int(str(flags["retries"]))
        except ValueError as exc:
            raise InvalidParameter(f"invalid retries: {flags['retries']}") from exc
        if retries < 0:
            raise InvalidParameter("--retries cannot be negative")
        check["Retries"] = retries
    stage.config["Healthcheck"] = check
    times = " ".join(f'"{format_duration(check.get(k, 0))}"' for k in _HEALTH_FLAGS.values())
    return f"HEALTHCHECK &{{{_go_list(test)} {times} {_go_rune(check.get('Retries', 0))}}}"


def shell(stage: Stage, inst: Instruction, words: Words) -> str:
    if inst.json is None or not inst.json:
        raise InvalidParameter("SHELL requires the arguments to be in JSON form")
    stage.config["Shell"] = list(inst.json)
    return "SHELL [" + " ".join(inst.json) + "]"


_NOT_TRIGGERS = ("ONBUILD", "FROM", "MAINTAINER")


def onbuild(stage: Stage, inst: Instruction, words: Words) -> str:
    trigger = inst.rest.strip()  # kept as written: it is parsed when it fires
    keyword = (trigger.split(None, 1) or [""])[0].upper()
    if keyword in _NOT_TRIGGERS:
        raise InvalidParameter(f"{keyword} isn't allowed as an ONBUILD trigger")
    stage.config["OnBuild"] = [*(stage.config.get("OnBuild") or []), trigger]
    return f"ONBUILD {trigger}"


def maintainer(stage: Stage, inst: Instruction, words: Words) -> str:
    stage.author = inst.rest.strip()  # free text: Docker substitutes nothing here
    return f"MAINTAINER {stage.author}"


HANDLERS: dict[str, Handler] = {
    "ENV": env,
    "LABEL": label,
    "CMD": cmd,
    "ENTRYPOINT": entrypoint,
    "EXPOSE": expose,
    "VOLUME": volume,
    "USER": user,
    "STOPSIGNAL": stopsignal,
    "HEALTHCHECK": healthcheck,
    "SHELL": shell,
    "ONBUILD": onbuild,
    "MAINTAINER": maintainer,
}
