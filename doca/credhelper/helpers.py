"""Running other credential helpers (`docker-credential-<name> get|list|…`) the way the docker
CLI does: JSON over stdin/stdout, errors on stdout, bounded in time and output."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from typing import Any

from doca.credhelper.protocol import NOT_FOUND

HELPER_PREFIX = "docker-credential-"
HELPER_TIMEOUT = 10.0
MAX_HELPER_OUTPUT = 1024 * 1024


class HelperError(Exception):
    """A credential helper failed; the message names the helper."""


def _run(name: str, action: str, stdin: str, timeout: float) -> tuple[int, str, str]:
    """Run `docker-credential-<name> <action>`: (exit code, stdout, stderr).

    The helper runs in its own session so a timeout kills everything it started, and a
    grandchild holding the pipe open cannot make us wait forever.
    """
    exe = HELPER_PREFIX + name
    found = shutil.which(exe)
    if found is None:
        raise HelperError(f"credential helper {exe} is not installed (not found on PATH)")
    try:
        proc = subprocess.Popen(
            [found, action],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise HelperError(f"cannot run credential helper {exe}: {exc}") from None
    try:
        out, err = proc.communicate(stdin.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise HelperError(
            f"credential helper {exe} did not answer `{action}` within {timeout:g} seconds"
        ) from None
    if len(out) > MAX_HELPER_OUTPUT:
        raise HelperError(f"credential helper {exe} `{action}` printed too much output")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _checked(name: str, action: str, answer: tuple[int, str, str]) -> str:
    code, out, err = answer
    if code != 0:
        # Helpers print their errors on stdout; fall back to stderr for broken ones.
        detail = (out.strip() or err.strip() or f"exit code {code}")[:500]
        raise HelperError(f"credential helper {HELPER_PREFIX}{name} `{action}` failed: {detail}")
    return out


def run_helper(name: str, action: str, stdin: str = "", timeout: float = HELPER_TIMEOUT) -> str:
    """The helper's stdout; HelperError naming the helper if it fails or hangs."""
    return _checked(name, action, _run(name, action, stdin, timeout))


def _helper_json(name: str, action: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise HelperError(f"credential helper {HELPER_PREFIX}{name} `{action}`: bad JSON output")
    return value


def helper_get(name: str, address: str, timeout: float = HELPER_TIMEOUT) -> tuple[str, str] | None:
    """`get` through a helper; None when it has no credentials for `address`."""
    answer = _run(name, "get", address, timeout)
    if answer[0] != 0 and answer[1].strip() == NOT_FOUND:
        return None
    found = _helper_json(name, "get", _checked(name, "get", answer))
    return str(found.get("Username") or ""), str(found.get("Secret") or "")


def helper_list(name: str, timeout: float = HELPER_TIMEOUT) -> dict[str, str]:
    """`list` through a helper: server URL → username."""
    found = _helper_json(name, "list", run_helper(name, "list", "", timeout))
    return {str(k): str(v) for k, v in found.items()}
