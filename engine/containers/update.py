"""``docker update``: change a container's resource limits and restart policy, live."""

from __future__ import annotations

from typing import Any

from engine.containers.create_config import check_types, json_kind, validate_host_config
from engine.containers.model import ContainerRecord
from engine.containers.spec import resource_fields
from engine.errors import InvalidParameter
from engine.runtime.oci_resources import resources
from engine.runtime.oci_spec import SpecInput

UPDATABLE = (
    "BlkioWeight",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
    "PidsLimit",
    "RestartPolicy",
)


def updated_host_config(record: ContainerRecord, body: Any) -> dict[str, Any]:
    """The container's HostConfig with the update applied, validated as at create."""
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: the request body must be an object")
    # The CLI sends every field; zero and empty mean "leave as it is".
    changes = {k: v for k, v in body.items() if k in UPDATABLE and v not in (None, "", 0)}
    policy = changes.get("RestartPolicy")
    if policy is not None and not isinstance(policy, dict):
        raise InvalidParameter(
            f"json: cannot unmarshal {json_kind(policy)} into Go struct field "
            "UpdateConfig.RestartPolicy of type container.RestartPolicy"
        )
    if not (changes.get("RestartPolicy") or {}).get("Name"):
        changes.pop("RestartPolicy", None)
    host = {**record.host_config, **changes}
    check_types({}, host)
    validate_host_config(host)
    swap = host.get("MemorySwap") or 0
    if "Memory" in changes and "MemorySwap" not in changes and host["Memory"] > swap > 0:
        raise InvalidParameter(
            "Memory limit should be smaller than already set memoryswap limit, update the "
            "memoryswap at the same time"
        )
    return host


def oci_resources(host: dict[str, Any]) -> dict[str, Any]:
    """The runtime's ``update --resources`` document for a HostConfig (devices untouched)."""
    spec = SpecInput(rootfs="", args=[], env=[], **resource_fields(host))
    document = resources(spec, [])
    del document["devices"]
    return document
