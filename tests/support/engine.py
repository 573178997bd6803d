"""A real doca-engine on a private socket and data root, and the real docker CLI pointed at it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


TEST_BRIDGE_PREFIX = "dt-"


# Every bridge name handed out in this test session, so that the session can remove what its
# own killed engines left behind (and nothing of another session running at the same time).
SESSION_BRIDGES: set[str] = set()


def unique_bridge_name() -> str:
    """A default bridge of its own for each test engine, so engines never share addresses."""
    name = TEST_BRIDGE_PREFIX + secrets.token_hex(4)
    SESSION_BRIDGES.add(name)
    return name


@dataclass
class EngineProcess:
    """One doca-engine process; ``start``/``stop`` may be called again to restart it.

    Each gets a default bridge of its own (unless ``extra_args`` names one); ``cleanup``
    removes the bridges and firewall table its engine made once it is stopped for good.
    """

    root: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    bridge: str = field(default_factory=unique_bridge_name)
    env: dict[str, str] = field(default_factory=dict)  # added to the engine's environment

    @property
    def socket(self) -> Path:
        return self.root / "doca.sock"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    @property
    def log_path(self) -> Path:
        return self.root / "engine.log"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 20) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine",
                "-H",
                self.host,
                "--data-root",
                str(self.data_root),
                "--exec-root",
                str(self.exec_root),
                "--pidfile",
                str(self.root / "doca.pid"),
                "--log-level",
                "debug",
                *([] if "--bridge" in self.extra_args else ["--bridge", self.bridge]),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env},
        )
        log.close()
        wait_ready(self.proc, self.answers_ping, timeout, self.log_text)

    def answers_ping(self) -> bool:
        try:
            return self.request("GET", "/_ping").body == b"OK"
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def cleanup(self) -> None:
        """Remove what a stopped engine left on the host's network: bridges, nft table."""
        remove_network_state(self.data_root, self.bridge)

    def last_error(self) -> str:
        """The log around the engine's last traceback (or its tail)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        at = text.rfind("Traceback")
        return text[max(0, at - 1000) : at + 4000] if at >= 0 else text[-5000:]

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Response:
        conn = UnixHTTPConnection(str(self.socket), timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()


@dataclass
class DockerCLI:
    """Runs the real docker CLI against one engine, with a config dir of its own."""

    host: str
    config_dir: Path
    # The engine's log, shown when a command fails with an internal error.
    engine_log: Callable[[], str] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir), NO_COLOR="1")
        return env

    def run_options(self) -> dict[str, Any]:
        """More of ``subprocess.run``'s options (another user, its directory)."""
        return {}

    def __call__(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [DOCKER, *args],
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            **self.run_options(),
        )
        if check and result.returncode != 0:
            log = ""
            if self.engine_log is not None and "internal error" in result.stderr:
                log = f"\nengine log:\n{self.engine_log()}"
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}{log}"
            )
        return result


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1) -> None:
    """Poll ``predicate`` until it holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def remove_network_state(data_root: Path, bridge: str) -> None:
    bridges = {bridge}
    for record in (data_root / "networks").glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            name = json.loads(record.read_text()).get("bridge")
            if name:
                bridges.add(name)
    for name in bridges:
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
    table = "doca_" + "".join(c if c.isalnum() or c == "_" else "_" for c in bridge)
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True, check=False)


def wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float,
    log_text: Callable[[], str],
) -> None:
    """Poll ``ready`` until it holds; fail with the daemon's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    args = proc.args
    program = str(args[0]) if isinstance(args, list | tuple) else str(args)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{program} exited at start:\n{log_text()}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{program} did not become ready:\n{log_text()}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def short_root() -> Path:
    """A directory with a short path: unix socket paths must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix="doca-", dir="/tmp"))


@contextlib.contextmanager
def running_engine(
    extra_args: Sequence[str] = (), root_mode: int | None = None
) -> Iterator[EngineProcess]:
    """A started doca-engine with a root of its own (``root_mode`` for others to reach it);
    stopped, cleaned up and its root removed when the block ends."""
    root = short_root()
    if root_mode is not None:
        os.chmod(root, root_mode)
    process = EngineProcess(root, list(extra_args))
    try:
        process.start()
        yield process
    finally:
        process.stop()
        process.cleanup()
        shutil.rmtree(root, ignore_errors=True)
