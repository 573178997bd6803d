"""The shapes of a service's runtime keys — resources and ``deploy``, devices, ulimits, logging,
secrets and configs — as ``docker compose config`` prints them. Pure, like ``shapes``."""

from __future__ import annotations

from typing import Any

from doca.cli.units import ram_in_bytes
from doca.compose.shapes import Fail, duration, integer, labels, mapping, scalar_text, string

SECRETS_DIR = "/run/secrets"
_RESOURCE_KEYS = ("cpus", "memory", "pids")
_DEPLOY_KEYS = ("mode", "replicas", "labels", "resources", "restart_policy")


def cpus(value: Any, fail: Fail) -> int | float:
    """A CPU count; Go prints a float32 that is whole without a fraction."""
    try:
        number = float(scalar_text(value))
    except ValueError:
        fail(f"invalid cpus {scalar_text(value)!r}")
    return int(number) if number.is_integer() else number


def unit_bytes(value: Any, fail: Fail) -> str:
    """A byte size (``64M``, ``1g``, a number) as Compose prints UnitBytes: its bytes, quoted."""
    try:
        return str(ram_in_bytes(scalar_text(value)))
    except ValueError as exc:
        fail(str(exc))


def sysctls(value: Any, fail: Fail) -> dict[str, str]:
    return {key: val or "" for key, val in mapping(value, fail).items()}


def ulimits(value: Any, fail: Fail) -> dict[str, Any]:
    """``nofile: 10`` or ``nofile: {soft: 10, hard: 20}``."""
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    for name, limit in value.items():
        if isinstance(limit, dict):
            out[name] = {k: integer(limit[k], fail) for k in ("soft", "hard") if k in limit}
        else:
            out[name] = integer(limit, fail)
    return dict(sorted(out.items()))


def devices(value: Any, fail: Fail) -> list[dict[str, str]]:
    """``/dev/x[:/dev/y[:perms]]`` or the long form, as source/target/permissions."""
    if not isinstance(value, list):
        fail("must be a list")
    out = []
    for entry in value:
        if isinstance(entry, dict):
            source = string(entry.get("source", ""), fail)
            out.append({"source": source, "target": string(entry.get("target", source), fail),
                        "permissions": string(entry.get("permissions", "rwm"), fail)})  # fmt: skip
            continue
        parts = string(entry, fail).split(":")
        if len(parts) > 3 or not parts[0]:
            fail(f"invalid device {entry!r}")
        source = parts[0]
        target = parts[1] if len(parts) > 1 and parts[1] else source
        permissions = parts[2] if len(parts) > 2 else "rwm"
        out.append({"source": source, "target": target, "permissions": permissions})
    return out


def logging(value: Any, fail: Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    if value.get("driver"):
        out["driver"] = string(value["driver"], fail)
    if value.get("options"):
        out["options"] = dict(sorted(labels(value["options"], fail).items()))
    return out


def _resource(value: Any, fail: Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    if "cpus" in value:
        out["cpus"] = cpus(value["cpus"], fail)
    if "memory" in value:
        out["memory"] = unit_bytes(value["memory"], fail)
    if "pids" in value:
        out["pids"] = integer(value["pids"], fail)
    return {k: out[k] for k in _RESOURCE_KEYS if out.get(k)}


def deploy(value: Any, fail: Fail) -> dict[str, Any]:
    """The parts of ``deploy`` an engine without a swarm honours: replicas, resources, labels
    and the restart policy (mode only as written)."""
    if not isinstance(value, dict):
        fail("must be a mapping")
    out: dict[str, Any] = {}
    if value.get("mode"):
        out["mode"] = string(value["mode"], fail)
    if value.get("replicas") is not None:
        out["replicas"] = integer(value["replicas"], fail)
    if value.get("labels"):
        out["labels"] = dict(sorted(labels(value["labels"], fail).items()))
    resources = value.get("resources") or {}
    if not isinstance(resources, dict):
        fail("resources must be a mapping")
    shaped = {
        k: _resource(resources[k], fail) for k in ("limits", "reservations") if k in resources
    }
    if shaped:
        out["resources"] = shaped
    policy = value.get("restart_policy")
    if isinstance(policy, dict):
        restart: dict[str, Any] = {}
        if policy.get("condition"):
            restart["condition"] = string(policy["condition"], fail)
        for key in ("delay", "window"):
            if policy.get(key) is not None:
                restart[key] = duration(policy[key], fail)
        if policy.get("max_attempts") is not None:
            restart["max_attempts"] = integer(policy["max_attempts"], fail)
        out["restart_policy"] = {
            k: restart[k] for k in ("condition", "delay", "max_attempts", "window") if k in restart
        }
    return {k: out[k] for k in _DEPLOY_KEYS if k in out}


def _file_reference(entry: Any, fail: Fail, secret: bool) -> dict[str, Any]:
    if isinstance(entry, str):
        shaped: dict[str, Any] = {"source": entry}
        if secret:
            shaped["target"] = f"{SECRETS_DIR}/{entry}"
        return shaped
    if not isinstance(entry, dict) or "source" not in entry:
        fail("must be a name or a mapping with a source")
    shaped = {"source": string(entry["source"], fail)}
    if entry.get("target"):
        shaped["target"] = string(entry["target"], fail)
    elif secret:
        shaped["target"] = f"{SECRETS_DIR}/{shaped['source']}"
    for key in ("uid", "gid"):
        if entry.get(key) is not None:
            shaped[key] = string(entry[key], fail)
    if entry.get("mode") is not None:
        mode = entry["mode"]
        # YAML reads 0440 as a number; Compose prints a FileMode as octal text
        shaped["mode"] = f"0{mode:o}" if isinstance(mode, int) else string(mode, fail)
    return shaped


def secrets(value: Any, fail: Fail) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        fail("must be a list")
    return [_file_reference(entry, fail, secret=True) for entry in value]


def configs(value: Any, fail: Fail) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        fail("must be a list")
    return [_file_reference(entry, fail, secret=False) for entry in value]
