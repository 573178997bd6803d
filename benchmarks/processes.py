"""The processes an engine costs: the engine, its descendants and the per-container monitors
(conmon for Doca and podman, containerd-shim for dockerd; they are not the engine's
descendants once they daemonize), without the containers' own processes."""

from __future__ import annotations

import psutil

from benchmarks.engines import Engine

MONITORS = ("conmon", "containerd-shim")


def monitors(ids: list[str]) -> list[psutil.Process]:
    """Monitor processes whose command line names one of ``ids``."""
    if not ids:
        return []
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = proc.info["name"] or ""
        cmdline = " ".join(proc.info["cmdline"] or [])
        if name.startswith(MONITORS) and any(cid in cmdline for cid in ids):
            found.append(proc)
    return found


def engine_processes(engine: Engine, ids: list[str]) -> list[psutil.Process]:
    """The engine, its descendants and the monitors of containers ``ids``."""
    root = psutil.Process(engine.pid)
    mons = monitors(ids)
    payload: set[int] = set()  # the containers' own processes are not the engine's cost
    for mon in mons:
        payload.update(p.pid for p in mon.children(recursive=True))
    procs = {p.pid: p for p in [root, *root.children(recursive=True), *mons]}
    return [proc for pid, proc in procs.items() if pid not in payload]


def container_ids(engine: Engine) -> list[str]:
    """Every container the engine has, running or not."""
    status, reply = engine.api("GET", "/containers/json?all=1")
    if status != 200:
        raise RuntimeError(f"{engine.name}: list answered {status}: {reply}")
    return [str(c["Id"]) for c in reply]
