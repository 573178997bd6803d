"""``/info``, ``/events``, ``/system/df`` and ``/auth`` (``/_ping`` and ``/version`` are in
``engine.api.ping``)."""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from engine import __version__
from engine.api.context import Routes, context
from engine.api.params import filters_param, json_body
from engine.api.responses import json_response
from engine.api.streams import JsonStream
from engine.events.filters import EVENT_FILTERS, event_matches
from engine.filters import parse_timestamp
from engine.hostinfo import find_runtimes, host_info
from engine.images.registry_access import (
    find_candidates,
    login_domain,
    registry_config_info,
    with_fallback,
)
from engine.registry.auth import Credentials
from engine.rootless.limits import rootless_info
from engine.runtime.mounts import storage_driver
from engine.system.disk_usage import disk_usage
from engine.timefmt import rfc3339_nano


async def info(request: web.Request) -> web.Response:
    ctx = context(request)
    host = host_info()
    runtimes = find_runtimes()
    total, running, paused, stopped = ctx.containers.counts()
    data = {
        "ID": ctx.engine_id,
        "Containers": total,
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": len(ctx.images.store.images),
        "Driver": storage_driver(),
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": True,
        "Debug": ctx.config.debug or ctx.config.log_level == "debug",
        "NFd": _open_fds(),
        "OomKillDisable": False,
        "NGoroutines": len(asyncio.all_tasks()),
        "SystemTime": rfc3339_nano(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": host.cgroup_version,
        "NEventsListener": ctx.events.listeners,
        "KernelVersion": host.kernel_version,
        "OperatingSystem": host.operating_system,
        "OSVersion": host.os_version,
        "OSType": "linux",
        "Architecture": host.architecture,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config_info(ctx.config),
        "NCPU": host.ncpu,
        "MemTotal": host.mem_total,
        "GenericResources": None,
        "DockerRootDir": str(ctx.paths.data_root),
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": host.hostname,
        "Labels": ctx.config.labels,
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {name: {"path": path} for name, path in runtimes.items()},
        "DefaultRuntime": next(iter(runtimes), "crun"),
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "tini",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": security_options(ctx.config.userns_remap, host.cgroup_version),
        "Warnings": None,
    }
    if ctx.config.rootless:
        rootless_info(data, ctx.containers.lifecycle.setup.cgroups.controllers or frozenset())
    return json_response(data)


def security_options(userns_remap: str, cgroup_version: str) -> list[str]:
    """dockerd's fillSecurityOptions, in its order."""
    options = ["name=seccomp,profile=builtin"]
    if userns_remap:
        options.append("name=userns")
    if cgroup_version == "2":
        options.append("name=cgroupns")
    return options


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


async def events(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    filters = filters_param(request).validate(EVENT_FILTERS)
    since = parse_timestamp(request.query["since"]) if request.query.get("since") else None
    until = parse_timestamp(request.query["until"]) if request.query.get("until") else None
    stream = JsonStream(request)
    history, subscription = ctx.events.subscribe()
    with subscription:
        await stream.finish_headers()
        if since is not None:
            for past in history:
                seconds = past.time_nano / 1e9
                if (
                    seconds >= since
                    and (until is None or seconds <= until)
                    and event_matches(past, filters)
                ):
                    await stream.send(past.to_json())
        while until is None or time.time() < until:
            timeout = None if until is None else max(0.0, until - time.time())
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout)
            except TimeoutError:
                break
            if event is None:
                break
            if until is not None and event.time_nano / 1e9 > until:
                break
            if event_matches(event, filters):
                await stream.send(event.to_json())
    return await stream.finish()


async def disk_usage_handler(request: web.Request) -> web.Response:
    ctx = context(request)
    usage = await asyncio.to_thread(
        disk_usage, ctx.images, ctx.containers, ctx.volumes, ctx.build_cache
    )
    return json_response(usage)


async def auth(request: web.Request) -> web.Response:
    """``docker login``: check the credentials against the registry's ``/v2/``."""
    ctx = context(request)
    body = await json_body(request)
    config = body if isinstance(body, dict) else {}
    credentials = Credentials.from_auth_config(config)
    domain = login_domain(credentials.server_address)
    found = await find_candidates(domain, ctx.config, pull=False)
    client, token = await with_fallback(found, credentials, lambda c: c.ping())
    await client.close()
    return json_response({"Status": "Login Succeeded", "IdentityToken": token})


def register(routes: Routes) -> None:
    routes.add("POST", "/auth", auth)
    routes.add("GET", "/system/df", disk_usage_handler)
    routes.add("GET", "/info", info)
    routes.add("GET", "/events", events)
