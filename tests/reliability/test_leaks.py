"""Many container lifecycles through the API, then nothing left behind.

Hundreds of create/start/wait/remove cycles from parallel clients must leave the engine with
the file descriptors and memory it had, and the host without the mounts, veths, network
namespaces and cgroups those containers used. Then 20 clients at once create, start, exec
into and remove containers for a bounded time, without a single error.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.runtime.cgroups import cgroup_path, read_mounts
from tests.reliability.summary import record
from tests.support.engine import EngineProcess

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("loaded_busybox")]

SECTION = "leaks"
JSON = {"Content-Type": "application/json"}
FD_MARGIN = 5
RSS_MARGIN = 10 << 20


class ApiError(Exception):
    pass


def call(engine: EngineProcess, method: str, path: str, body: object = None) -> bytes:
    """One API request; anything but a 2xx is an ApiError."""
    data = json.dumps(body).encode() if body is not None else None
    response = engine.request(method, path, data, JSON if data else None, timeout=60)
    if not 200 <= response.status < 300:
        raise ApiError(f"{method} {path} -> {response.status} {response.body[:300]!r}")
    return response.body


def created_id(answer: bytes) -> str:
    return str(json.loads(answer)["Id"])


def lifecycle(engine: EngineProcess, network: str) -> str:
    """create, start, wait, remove one container; its ID."""
    config = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": network}}
    cid = created_id(call(engine, "POST", "/containers/create", config))
    call(engine, "POST", f"/containers/{cid}/start")
    status = json.loads(call(engine, "POST", f"/containers/{cid}/wait"))
    if status.get("StatusCode") != 0:
        raise ApiError(f"container {cid} exited {status}")
    call(engine, "DELETE", f"/containers/{cid}")
    return cid


@dataclass
class Snapshot:
    """What the engine holds and what it left on the host at one moment."""

    fds: int
    rss: int
    mounts: list[str]
    veths: list[str]
    netns: list[str]

    @classmethod
    def take(cls, engine: EngineProcess) -> Snapshot:
        assert engine.proc is not None
        pid = engine.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
        roots = (str(engine.data_root) + "/", str(engine.exec_root) + "/")
        mounts = [
            line.split()[4]
            for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(roots)
        ]
        links = subprocess.run(
            ["ip", "-o", "link", "show", "master", engine.bridge],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        return cls(
            fds=len(os.listdir(f"/proc/{pid}/fd")),
            rss=rss * 1024,
            mounts=sorted(mounts),
            veths=[line.split(":")[1].strip() for line in links.splitlines()],
            netns=sorted(os.listdir(engine.exec_root / "netns")),
        )


def settled(engine: EngineProcess, base: Snapshot, timeout: float = 10) -> Snapshot:
    """A snapshot once the engine's fds are back near ``base`` (closing lags a little)."""
    deadline = time.monotonic() + timeout
    while True:
        now = Snapshot.take(engine)
        if now.fds - base.fds <= FD_MARGIN or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def cgroups_left(ids: list[str]) -> list[Path]:
    mounts = read_mounts()
    return [
        directory
        for cid in ids
        for directory in mounts.container_dirs(cgroup_path(cid)).values()
        if directory.exists()
    ]


@dataclass
class Cycles:
    """Lifecycles run by parallel clients: the IDs they used and the errors they met."""

    ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, engine: EngineProcess, network: str, count: int, clients: int = 4) -> float:
        started = time.monotonic()

        def one(_: int) -> None:
            try:
                self.ids.append(lifecycle(engine, network))
            except (ApiError, OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{network}: {exc!r}")

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(count)))
        return time.monotonic() - started


def test_lifecycles_leak_nothing(engine: EngineProcess) -> None:
    # Warm up first: imports, caches and the bridge are set up on first use, not leaked.
    warm = Cycles()
    warm.run(engine, "none", 12)
    warm.run(engine, "bridge", 4)
    assert warm.errors == []
    base = Snapshot.take(engine)

    cycles = Cycles()
    took = {
        network: cycles.run(engine, network, n) for network, n in (("none", 300), ("bridge", 50))
    }
    after = settled(engine, base)
    left = cgroups_left(cycles.ids)

    timing = f"300 --network none in {took['none']:.0f} s, 50 bridge in {took['bridge']:.0f} s"
    remains = f"{len(after.mounts)}, {len(after.veths)}, {len(after.netns)}, {len(left)}"
    record(SECTION, "cycles (4 clients)", timing)
    record(SECTION, "errors", str(len(cycles.errors)))
    record(SECTION, "fd delta", f"{after.fds - base.fds:+d} (of {base.fds})")
    record(SECTION, "RSS delta", f"{(after.rss - base.rss) / (1 << 20):+.1f} MiB")
    record(SECTION, "mounts, veths, netns, cgroups left", remains)

    assert cycles.errors == [], "\n".join(cycles.errors[:10])
    assert len(cycles.ids) == 350
    assert after.fds - base.fds <= FD_MARGIN, f"{base.fds} fds before, {after.fds} after"
    assert after.mounts == base.mounts
    assert after.veths == base.veths == []
    assert after.netns == base.netns == []
    assert left == []
    assert after.rss - base.rss < RSS_MARGIN, f"RSS {base.rss} -> {after.rss}"


@dataclass
class Load:
    """Operations and errors of many clients working at once."""

    engine: EngineProcess
    operations: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, body: object = None) -> bytes:
        answer = call(self.engine, method, path, body)
        with self.lock:
            self.operations += 1
        return answer

    def client(self, deadline: float) -> None:
        """create, start, exec, remove until ``deadline``; stop at the first error."""
        config = {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "none"}}
        exec_config = {"Cmd": ["echo", "hi"], "AttachStdout": True}
        while time.monotonic() < deadline:
            try:
                cid = created_id(self.call("POST", "/containers/create", config))
                self.call("POST", f"/containers/{cid}/start")
                exec_id = created_id(self.call("POST", f"/containers/{cid}/exec", exec_config))
                output = self.call("POST", f"/exec/{exec_id}/start", {"Detach": False})
                if b"hi" not in output:
                    raise ApiError(f"exec {exec_id} wrote {output!r}")
                self.call("DELETE", f"/containers/{cid}?force=1")
            except (ApiError, OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.errors.append(repr(exc))
                return


def test_twenty_clients_at_once(engine: EngineProcess) -> None:
    load = Load(engine)
    started = time.monotonic()
    deadline = started + 25
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda _: load.client(deadline), range(20)))
    took = time.monotonic() - started
    figures = f"{load.operations} operations in {took:.0f} s, {len(load.errors)} errors"
    record(SECTION, "20 parallel clients (create/start/exec/rm)", figures)
    assert load.errors == [], "\n".join(load.errors[:10])
    assert engine.answers_ping()
    left = json.loads(call(engine, "GET", "/containers/json?all=1"))
    assert left == []
