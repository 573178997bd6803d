"""Debian's ``docker-registry`` (distribution 2.8) on a free loopback port, optionally with
htpasswd logins, for tests and benchmarks; stopped by its PID afterwards."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support.engine import free_port

REGISTRY = Path("/usr/bin/docker-registry")
HTPASSWD = shutil.which("htpasswd")


def registry_available(with_logins: bool = False) -> bool:
    return REGISTRY.exists() and (HTPASSWD is not None or not with_logins)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # 401 without credentials: it is serving
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not start within {timeout:g} seconds")


@contextlib.contextmanager
def docker_registry(root: Path, login: tuple[str, str] | None = None) -> Iterator[str]:
    """Serve a registry storing under ``root``; yields its ``127.0.0.1:PORT`` address.

    With ``login`` (user, password) it asks for Basic auth against a bcrypt htpasswd file.
    """
    address = f"127.0.0.1:{free_port()}"
    auth = ""
    if login is not None:
        if HTPASSWD is None:
            raise RuntimeError("htpasswd (apache2-utils) is needed for registry logins")
        htpasswd = root / "htpasswd"
        subprocess.run(
            [HTPASSWD, "-Bbc", str(htpasswd), *login], check=True, capture_output=True, timeout=30
        )
        auth = f"auth:\n  htpasswd:\n    realm: doca-test\n    path: {htpasswd}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\n" + auth
    )
    with (root / "registry.log").open("wb") as log:
        process = subprocess.Popen([str(REGISTRY), "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_ready(f"http://{address}/v2/", process)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
