"""A service's runtime keys — resources (service-level or ``deploy.resources``), devices,
ulimits, sysctls, logging, namespaces, tmpfs — as HostConfig fields, the way Compose v2 fills
them. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_PASSED = (("cgroup_parent", "CgroupParent"), ("cpuset", "CpusetCpus"),
           ("cpu_shares", "CpuShares"), ("oom_score_adj", "OomScoreAdj"),
           ("ipc", "IpcMode"), ("pid", "PidMode"), ("security_opt", "SecurityOpt"),
           ("dns_opt", "DnsOptions"), ("dns_search", "DnsSearch"),
           ("group_add", "GroupAdd"))  # fmt: skip


def replicas(service: Mapping[str, Any]) -> int:
    """How many containers the service runs: ``scale``, else ``deploy.replicas``, else one."""
    if service.get("scale") is not None:
        return int(service["scale"])
    replicas = (service.get("deploy") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _resources(service: Mapping[str, Any]) -> dict[str, Any]:
    resources = (service.get("deploy") or {}).get("resources") or {}
    limits = resources.get("limits") or {}
    reservations = resources.get("reservations") or {}
    host: dict[str, Any] = {}
    cpus = service.get("cpus", limits.get("cpus"))
    if cpus:
        host["NanoCpus"] = round(float(cpus) * 1e9)
    memory = service.get("mem_limit", limits.get("memory"))
    if memory:
        host["Memory"] = int(memory)
    reservation = service.get("mem_reservation", reservations.get("memory"))
    if reservation:
        host["MemoryReservation"] = int(reservation)
    if service.get("memswap_limit"):
        host["MemorySwap"] = int(service["memswap_limit"])
    pids = service.get("pids_limit", limits.get("pids"))
    if pids:
        host["PidsLimit"] = int(pids)
    return host


def _ulimits(ulimits: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, limit in ulimits.items():
        if isinstance(limit, dict):
            out.append({"Name": name, "Soft": limit.get("soft", 0), "Hard": limit.get("hard", 0)})
        else:
            out.append({"Name": name, "Soft": limit, "Hard": limit})
    return out


def _tmpfs(entries: list[str]) -> dict[str, str]:
    """``/run:size=1m`` entries as HostConfig.Tmpfs's path → options map."""
    return dict(entry.partition(":")[::2] for entry in entries)


def runtime_host_config(service: Mapping[str, Any]) -> dict[str, Any]:
    host = _resources(service)
    for key, field in _PASSED:
        if service.get(key):
            host[field] = service[key]
    if service.get("shm_size"):
        host["ShmSize"] = int(service["shm_size"])
    if service.get("read_only"):
        host["ReadonlyRootfs"] = True
    if service.get("tmpfs"):
        host["Tmpfs"] = _tmpfs(service["tmpfs"])
    if service.get("sysctls"):
        host["Sysctls"] = dict(service["sysctls"])
    if service.get("ulimits"):
        host["Ulimits"] = _ulimits(service["ulimits"])
    if service.get("devices"):
        host["Devices"] = [{"PathOnHost": d["source"], "PathInContainer": d["target"],
                            "CgroupPermissions": d["permissions"]}
                           for d in service["devices"]]  # fmt: skip
    logging = service.get("logging") or {}
    if logging:
        host["LogConfig"] = {"Type": logging.get("driver", ""),
                             "Config": dict(logging.get("options") or {})}  # fmt: skip
    return host


def network_mode(service: Mapping[str, Any], container_of: Mapping[str, str]) -> str | None:
    """``network_mode`` as the engine takes it: ``service:<name>`` becomes the container of
    that service (``container_of`` maps service names to one of their containers)."""
    mode = service.get("network_mode")
    if not mode:
        return None
    kind, _, target = str(mode).partition(":")
    if kind == "service":
        return f"container:{container_of.get(target, target)}"
    return str(mode)
