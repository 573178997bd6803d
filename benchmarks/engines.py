"""Engines to measure side by side, each on its own socket and data root: Doca, Debian's dockerd
and Debian's podman (its Docker-compatible API service)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.podman import PodmanService, podman_available
from tests.support.dockerd import Dockerd, dockerd_available
from tests.support.engine import DockerCLI, EngineProcess, UnixHTTPConnection, short_root
from tests.support.testimage import TestImage, build_test_image

API = "/v1.41"  # dockerd 20.10's version; Doca answers it too


@dataclass
class Engine:
    name: str
    cli: DockerCLI
    socket: Path
    pid: int  # the engine process; its descendants and monitors are found from here

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API call over the unix socket: (status, decoded JSON body or None)."""
        conn = UnixHTTPConnection(str(self.socket), timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, API + path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.strip() else None
        finally:
            conn.close()


def pings(socket: Path) -> bool:
    """``GET /_ping`` answers OK (raw HTTP: the CLI's own start-up would blur the timing)."""
    conn = UnixHTTPConnection(str(socket), timeout=5)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().read() == b"OK"
    except OSError:
        return False
    finally:
        conn.close()


def start_doca(root: Path) -> tuple[EngineProcess, float]:
    """Launch Doca on ``root``; return it and the seconds from launch to ``/_ping`` answering."""
    process = EngineProcess(root, ["--log-level", "warn"])
    started = time.perf_counter()
    try:
        process.start()
    except BaseException:
        process.stop(signal.SIGKILL)
        raise
    return process, time.perf_counter() - started


def start_dockerd(root: Path) -> tuple[Dockerd, float]:
    daemon = Dockerd(root)
    sock = root / "dockerd.sock"
    started = time.perf_counter()
    try:
        daemon.start(lambda: pings(sock))
    except BaseException:
        stop_dockerd(daemon, root)
        raise
    return daemon, time.perf_counter() - started


def stop_dockerd(daemon: Dockerd, root: Path) -> None:
    daemon.stop()
    subprocess.run(["umount", "-R", str(root)], capture_output=True, check=False)


def start_podman(root: Path) -> tuple[PodmanService, float]:
    service = PodmanService(root)
    started = time.perf_counter()
    try:
        service.start(lambda: pings(service.socket))
    except BaseException:
        service.stop()
        raise
    return service, time.perf_counter() - started


@contextlib.contextmanager
def doca_engine(image: TestImage) -> Iterator[Engine]:
    root = short_root()
    process, _ = start_doca(root)
    try:
        assert process.proc is not None
        cli = DockerCLI(process.host, root)
        cli("load", "-i", str(image.save_tar))
        yield Engine("doca", cli, process.socket, process.proc.pid)
    finally:
        process.stop(signal.SIGTERM)
        process.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def debian_dockerd(image: TestImage) -> Iterator[Engine | None]:
    if not dockerd_available():
        yield None
        return
    root = short_root()
    try:
        daemon, _ = start_dockerd(root)
        try:
            assert daemon.proc is not None
            cli = DockerCLI(daemon.host, root)
            cli("load", "-i", str(image.save_tar))
            yield Engine("dockerd", cli, root / "dockerd.sock", daemon.proc.pid)
        finally:
            stop_dockerd(daemon, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def debian_podman(image: TestImage) -> Iterator[Engine | None]:
    """Podman's service; started after Doca, whose start fixes the hybrid cgroup layout that
    podman's crun refuses (see ``engine/runtime/cgroups.py``)."""
    if not podman_available():
        yield None
        return
    root = short_root()
    try:
        service, _ = start_podman(root)
        try:
            assert service.proc is not None
            engine = Engine(
                "podman", DockerCLI(service.host, root), service.socket, service.proc.pid
            )
            engine.cli("load", "-i", str(image.save_tar))
            resolve_busybox(engine)
            yield engine
        finally:
            service.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def resolve_busybox(engine: Engine) -> None:
    """Make ``busybox`` name the loaded image: podman may keep it as ``localhost/busybox``."""
    if engine.api("GET", "/images/busybox/json")[0] == 200:
        return
    engine.api(
        "POST", "/images/localhost/busybox:latest/tag?repo=docker.io/library/busybox&tag=latest"
    )
    status, reply = engine.api("GET", "/images/busybox/json")
    if status != 200:
        raise RuntimeError(f"{engine.name}: the loaded test image is not busybox: {reply}")


def test_image(cache: Path) -> TestImage:
    cache.mkdir(parents=True, exist_ok=True)
    return build_test_image(cache)
