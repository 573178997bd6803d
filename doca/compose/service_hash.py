"""Compose v2's ``com.docker.compose.config-hash`` (``ServiceHash`` in docker/compose
pkg/compose/hash.go): the SHA-256 of the service's JSON as Go marshals compose-go's
ServiceConfig, less the keys that do not call for a new container."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from doca.compose.service import SERVICE_KEYS

# ServiceHash blanks these (and deploy.replicas) before hashing.
_IGNORED = ("build", "depends_on", "profiles", "pull_policy", "scale")


def service_hash(service: dict[str, Any]) -> str:
    document = json_shape(service)
    for key in _IGNORED:
        document.pop(key, None)
    if "deploy" in document:
        document["deploy"] = {k: v for k, v in document["deploy"].items() if k != "replicas"}
    return hashlib.sha256(go_json(document).encode()).hexdigest()


def json_shape(service: dict[str, Any]) -> dict[str, Any]:
    """The service as Go's encoding/json writes compose-go's ServiceConfig: ``command`` and
    ``entrypoint`` have no omitempty, and ``deploy`` always carries its (struct-typed)
    ``resources`` and ``placement``."""
    document = {key: service[key] for key in SERVICE_KEYS if key in service}
    document.setdefault("command", None)
    document.setdefault("entrypoint", None)
    if "deploy" in document:
        deploy = dict(document["deploy"])
        deploy.setdefault("resources", {})
        order = ("mode", "replicas", "labels", "resources", "restart_policy")
        document["deploy"] = {k: deploy[k] for k in order if k in deploy} | {"placement": {}}
    return {key: document[key] for key in SERVICE_KEYS if key in document}


def go_json(value: Any) -> str:
    """``encoding/json.Marshal``'s compact form: map keys sorted (struct fields are already in
    order here), and <, > and & escaped as Go escapes them for HTML safety."""
    text = json.dumps(_sorted_maps(value), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sorted_maps(value: Any, key: str = "") -> Any:
    if isinstance(value, list):
        return [_sorted_maps(item, "item") for item in value]
    if not isinstance(value, dict):
        return value
    # Only Go maps (environment, labels, networks, ...) are sorted; structs keep field order.
    if key in ("environment", "labels", "networks", "driver_opts", "sysctls", "ulimits", "options"):
        return {k: _sorted_maps(v, "") for k, v in sorted(value.items())}
    return {k: _sorted_maps(v, k) for k, v in value.items()}
