"""``/_ping`` and ``/version``: what clients ask first, answered from the moment the engine
listens (before its services exist), so this module imports next to nothing."""

from __future__ import annotations

from aiohttp import web

from engine import __version__
from engine.api.context import Routes
from engine.api.responses import json_response
from engine.api.version import API_VERSION, API_VERSION_HEADERS, MIN_API_VERSION

PING_HEADERS = {
    **API_VERSION_HEADERS,
    "Builder-Version": "1",
    "Swarm": "inactive",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: web.Request) -> web.Response:
    # aiohttp leaves the body out of HEAD answers but keeps its Content-Length, as dockerd does.
    return web.Response(body=b"OK", content_type="text/plain", headers=PING_HEADERS)


def version_info() -> dict[str, object]:
    # Imported here: the first ping must not wait for what only ``/version`` needs.
    from engine.hostinfo import host_info

    host = host_info()
    details = {
        "ApiVersion": API_VERSION,
        "Arch": _go_arch(host.architecture),
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": "",
        "KernelVersion": host.kernel_version,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    }
    return {
        "Platform": {"Name": "Doca Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        **{k: v for k, v in details.items() if k != "Experimental"},
    }


def _go_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


async def version(request: web.Request) -> web.Response:
    return json_response(version_info())


def register(routes: Routes) -> None:
    routes.add("GET", "/_ping", ping)
    routes.add("HEAD", "/_ping", ping)
    routes.add("GET", "/version", version)
