"""Compose v2's ``com.docker.compose.config-hash`` (``ServiceHash`` in docker/compose
pkg/compose/hash.go): the SHA-256 of the service's JSON as Go marshals compose-go's
ServiceConfig, less the keys that do not call for a new container."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from doca.compose.service import SERVICE_KEYS

# ServiceHash blanks these (pull_policy, scale and deploy.replicas too, which Doca does not
# model) before hashing.
_IGNORED = ("build", "depends_on", "profiles")


def service_hash(service: dict[str, Any]) -> str:
    document = {key: service[key] for key in SERVICE_KEYS if key in service}
    for key in _IGNORED:
        document.pop(key, None)
    # command and entrypoint have no omitempty in compose-go's JSON tags
    document.setdefault("command", None)
    document.setdefault("entrypoint", None)
    document = {key: document[key] for key in SERVICE_KEYS if key in document}
    return hashlib.sha256(go_json(document).encode()).hexdigest()


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
    if key in ("environment", "labels", "networks", "driver_opts"):
        return {k: _sorted_maps(v, "") for k, v in sorted(value.items())}
    return {k: _sorted_maps(v, k) for k, v in value.items()}
