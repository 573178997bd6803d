"""The real `docker-credential-doca` executable against a real Secret Service.

gnome-keyring-daemon (secrets component) runs inside its own `dbus-run-session`, unlocked with a
test password, with HOME/XDG dirs in a temp dir so nothing touches the user's keychain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HELPER = Path(sys.executable).parent / "docker-credential-doca"
SECRETSERVICE_REF = shutil.which("docker-credential-secretservice")

_SESSION_SCRIPT = """
printf %s "$DOCA_TEST_KEYRING_PASSWORD" |
    gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
keyring_pid=$!
echo "$DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
kill "$keyring_pid" 2>/dev/null
wait "$keyring_pid" 2>/dev/null
exit 0
"""


@dataclass
class Session:
    env: dict[str, str]
    home: Path

    def run(self, action: str, stdin: str = "", exe: Path | str = HELPER) -> tuple[int, str]:
        proc = subprocess.run(
            [str(exe), action],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return proc.returncode, proc.stdout


def _missing() -> str | None:
    for tool in ("gnome-keyring-daemon", "dbus-run-session"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install gnome-keyring dbus)"
    if not HELPER.exists():
        return f"{HELPER} is missing (pip install -e .)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "the secretstorage module is not installed (pip install keyring secretstorage)"
    return None


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    reason = _missing()
    if reason:
        pytest.skip(f"needs a real Secret Service: {reason}")
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
        "DOCA_TEST_KEYRING_PASSWORD": "doca-test-password",
    }
    proc = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", _SESSION_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address, "dbus-run-session printed no bus address"
        env = {**env, "DBUS_SESSION_BUS_ADDRESS": address}
        del env["DOCA_TEST_KEYRING_PASSWORD"]
        s = Session(env, home)
        deadline = time.monotonic() + 15
        while True:
            code, out = s.run("list")
            if code == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"Secret Service did not come up: {out}")
            time.sleep(0.2)
        yield s
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_round_trip_secret_only_in_keychain(session: Session) -> None:
    secret = "s3cret-Pa55-e2e-7c1f"
    token = "idtoken-e2e-91ab"
    store_a = {"ServerURL": "localhost:5000", "Username": "alice", "Secret": secret}
    store_hub = {"ServerURL": "https://index.docker.io/v1/", "Username": "<token>", "Secret": token}
    assert session.run("store", json.dumps(store_a)) == (0, "")
    assert session.run("store", json.dumps(store_hub)) == (0, "")

    code, out = session.run("get", "localhost:5000\n")
    assert code == 0
    assert json.loads(out) == store_a
    code, out = session.run("get", "https://index.docker.io/v1/")
    assert code == 0
    assert out == (
        '{"ServerURL":"https://index.docker.io/v1/","Username":"\\u003ctoken\\u003e",'
        f'"Secret":"{token}"}}\n'
    )
    code, out = session.run("get", "docker.io")
    assert (code, json.loads(out)["Secret"]) == (0, token)

    code, out = session.run("list")
    assert code == 0
    assert json.loads(out) == {"localhost:5000": "alice", "https://index.docker.io/v1/": "<token>"}

    # The secrets live in the (encrypted) keychain only: no file under the test home has them.
    assert _files_containing(session.home, secret.encode()) == []
    assert _files_containing(session.home, token.encode()) == []
    assert list((session.home / ".local" / "share" / "keyrings").iterdir())

    assert session.run("erase", "https://localhost:5000/") == (0, "")
    assert session.run("get", "localhost:5000") == (1, "credentials not found in native keychain\n")
    code, out = session.run("list")
    assert json.loads(out) == {"https://index.docker.io/v1/": "<token>"}


def test_bad_input_leaves_keychain_unchanged(session: Session) -> None:
    good = {"ServerURL": "r.example", "Username": "u", "Secret": "p-unchanged"}
    assert session.run("store", json.dumps(good)) == (0, "")
    for action, stdin in [
        ("store", ""),
        ("store", "{not json"),
        ("store", '{"ServerURL": "r.example", "Username": "u"}'),
        ("store", '{"ServerURL": "r.example\\n", "Username": "x", "Secret": "y"}'),
        ("get", ""),
        ("erase", "ftp://r.example"),
        ("bogus", ""),
    ]:
        code, out = session.run(action, stdin)
        assert code == 1, (action, stdin)
        assert out.strip(), (action, stdin)
    code, out = session.run("get", "r.example")
    assert (code, json.loads(out)) == (0, good)
    assert session.run("list")[1] == '{"r.example":"u"}\n'


def test_refuses_plaintext_backend(session: Session) -> None:
    env = {**session.env, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    proc = subprocess.run(
        [str(HELPER), "store"],
        input='{"ServerURL":"r.example","Username":"u","Secret":"p"}',
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "no secure keychain" in proc.stdout
    assert "gnome-keyring" in proc.stdout


@pytest.mark.skipif(
    SECRETSERVICE_REF is None, reason="docker-credential-secretservice not installed"
)
def test_same_protocol_answers_as_reference_helper(session: Session) -> None:
    """Compare with the reference docker-credential-secretservice on the same Secret Service."""
    assert SECRETSERVICE_REF is not None
    creds = json.dumps({"ServerURL": "ref.example:5000", "Username": "<token>", "Secret": "t"})
    answers = []
    for exe in (HELPER, SECRETSERVICE_REF):
        assert session.run("store", creds, exe=exe) == (0, "")
        answers.append(session.run("get", "ref.example:5000", exe=exe))
        assert session.run("get", "missing.example", exe=exe) == (
            1,
            "credentials not found in native keychain\n",
        )
        assert session.run("get", "", exe=exe) == (1, "no credentials server URL\n")
        assert session.run("erase", "ref.example:5000", exe=exe) == (0, "")
        assert session.run("erase", "ref.example:5000", exe=exe) == (0, "")
    # Each helper reads only its own items; their answers are byte-identical.
    assert answers[0] == answers[1]
    assert answers[0] == (
        0,
        '{"ServerURL":"ref.example:5000","Username":"\\u003ctoken\\u003e","Secret":"t"}\n',
    )
