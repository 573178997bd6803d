"""Exec sessions as dockerd runs them: the environment a TTY exec gets, the console size it starts
with, and what becomes of an attached exec whose client goes away."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.containers.exec_process import decode_console_size, exec_environment
from engine.errors import InvalidParameter
from tests.support.engine import DOCKER, DockerCLI, EngineProcess, wait_for

pytestmark = pytest.mark.usefixtures("loaded_busybox")

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def box(docker: DockerCLI) -> Iterator[str]:
    docker("run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "600")
    yield "box"
    docker("rm", "-f", "box")


def create_exec(
    engine: EngineProcess, container: str, body: dict[str, Any], api: str = "1.47"
) -> str:
    response = engine.request(
        "POST", f"/v{api}/containers/{container}/exec", json.dumps(body).encode(), JSON
    )
    assert response.status == 201, response.body
    return str(json.loads(response.body)["Id"])


def start_exec(
    engine: EngineProcess, exec_id: str, body: dict[str, Any], api: str = "1.47"
) -> bytes:
    """ExecStart without the hijack: the output comes back as the response body."""
    response = engine.request(
        "POST", f"/v{api}/exec/{exec_id}/start", json.dumps(body).encode(), JSON, timeout=30
    )
    assert response.status == 200, response.body
    return response.body


def inspect_exec(engine: EngineProcess, exec_id: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(engine.request("GET", f"/v1.47/exec/{exec_id}/json").body)
    return value


def hijack_exec(engine: EngineProcess, exec_id: str, tty: bool) -> socket.socket:
    """ExecStart as the docker CLI sends it: upgraded to a raw stream both ways."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(engine.socket))
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    sock.sendall(
        f"POST /v1.47/exec/{exec_id}/start HTTP/1.1\r\nHost: api\r\n"
        f"Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_tty_execs_get_term_xterm(docker: DockerCLI, box: str) -> None:
    assert docker("exec", "-t", box, "sh", "-c", "echo $TERM").stdout == "xterm\n"
    assert docker("exec", box, "sh", "-c", "echo ${TERM:-none}").stdout == "none\n"
    assert docker("exec", "-t", "-e", "TERM=vt100", box, "sh", "-c", "echo $TERM").stdout == (
        "vt100\n"
    )


def test_tty_container_execs_without_tty_have_no_term(docker: DockerCLI) -> None:
    # dockerd builds an exec's environment for the exec's own TTY, not the container's.
    docker("run", "-d", "-t", "--name", "ttybox", "-e", "A=1", "--network", "none",
           "busybox", "sleep", "600")  # fmt: skip
    try:
        assert docker("exec", "ttybox", "sh", "-c", "echo ${TERM:-none} $A").stdout == "none 1\n"
        assert docker("exec", "-t", "ttybox", "sh", "-c", "echo $TERM $A").stdout == "xterm 1\n"
    finally:
        docker("rm", "-f", "ttybox")


def test_home_is_the_exec_users(docker: DockerCLI, box: str) -> None:
    assert docker("exec", "-u", "nobody", box, "sh", "-c", "echo $HOME").stdout == "/home\n"
    assert docker("exec", box, "sh", "-c", "echo $HOME").stdout == "/root\n"
    assert docker("exec", "-u", "app", "-e", "HOME=/x", box, "sh", "-c", "echo $HOME").stdout == (
        "/x\n"
    )


def test_an_unknown_user_fails_the_create(
    engine: EngineProcess, docker: DockerCLI, box: str
) -> None:
    result = docker("exec", "-u", "nosuch", box, "true", check=False)
    assert (result.returncode, result.stderr) == (
        1,
        "Error response from daemon: unable to find user nosuch: no matching entries in passwd "
        "file\n",
    )
    exec_id = create_exec(engine, box, {"Cmd": ["id", "-u"], "User": "app", "AttachStdout": True})
    assert inspect_exec(engine, exec_id)["ProcessConfig"]["user"] == "app"
    assert (
        "user"
        not in inspect_exec(engine, create_exec(engine, box, {"Cmd": ["true"]}))["ProcessConfig"]
    )


def run_under_pty(docker: DockerCLI, rows: int, columns: int, *args: str) -> str:
    """The docker CLI with its stdout on a terminal of the given size and no terminal on stdin,
    so it sends ConsoleSize and never calls resize (it only follows the size of a TTY stdin)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [DOCKER, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=docker.env()
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(10) == 0, output
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return output.decode().replace("\r", "")


# crun (1.8 and later alike) applies an exec's consoleSize from its parent process just after
# it lets the process run, so the first moments may still see 0x0 (and the shell a SIGWINCH,
# which cuts busybox's command substitutions short: hence no $(…) here); runc, which dockerd
# uses, applies it inside the process before exec. Waiting for a size, with no resize call
# ever made, tells ConsoleSize from its absence (the size would stay 0x0) on both.
SIZE_ONCE_SET = (
    "i=0; while [ $i -lt 100 ]; do stty size 2>/dev/null | grep -v '^0 0$' && exit 0;"
    " sleep 0.05; i=$((i+1)); done; echo unset"
)


def test_the_docker_cli_terminal_size_reaches_the_exec(docker: DockerCLI, box: str) -> None:
    output = run_under_pty(docker, 33, 101, "exec", "-t", box, "sh", "-c", SIZE_ONCE_SET)
    assert output == "33 101\n"


def test_console_size_sizes_the_terminal_without_a_resize(engine: EngineProcess, box: str) -> None:
    command = {"Cmd": ["sh", "-c", SIZE_ONCE_SET], "Tty": True, "AttachStdout": True}
    sized = create_exec(engine, box, {**command, "ConsoleSize": [17, 42]})
    assert start_exec(engine, sized, {"Tty": True}) == b"17 42\r\n"
    # ExecStart's size wins over ExecCreate's, but only along with its own Tty.
    both = create_exec(engine, box, {**command, "ConsoleSize": [17, 42]})
    assert start_exec(engine, both, {"Tty": True, "ConsoleSize": [20, 60]}) == b"20 60\r\n"
    untty = create_exec(engine, box, {**command, "ConsoleSize": [17, 42]})
    assert start_exec(engine, untty, {"ConsoleSize": [20, 60]}) == b"17 42\r\n"
    at_start = create_exec(engine, box, command)
    assert start_exec(engine, at_start, {"Tty": True, "ConsoleSize": [9, 11]}) == b"9 11\r\n"


def test_console_size_is_ignored_before_api_1_42(engine: EngineProcess, box: str) -> None:
    # Long enough for a size crun applies late to have landed.
    command = {"Cmd": ["sh", "-c", "sleep 1; stty size"], "Tty": True, "AttachStdout": True}
    old = create_exec(engine, box, {**command, "ConsoleSize": [17, 42]}, api="1.41")
    output = start_exec(engine, old, {"Tty": True, "ConsoleSize": [20, 60]}, api="1.41")
    assert output.startswith(b"stty: standard input")  # busybox has no size to show for 0x0


def test_a_console_size_go_cannot_decode_is_refused(engine: EngineProcess, box: str) -> None:
    body = {"Cmd": ["true"], "Tty": True, "ConsoleSize": [-1, 5]}
    response = engine.request(
        "POST", f"/v1.47/containers/{box}/exec", json.dumps(body).encode(), JSON
    )
    assert response.status == 400
    assert json.loads(response.body)["message"] == (
        "json: cannot unmarshal number -1 into Go struct field ExecOptions.ConsoleSize of type uint"
    )
    exec_id = create_exec(engine, box, {"Cmd": ["true"]})
    response = engine.request(
        "POST", f"/v1.47/exec/{exec_id}/start", b'{"Tty": true, "ConsoleSize": "24x80"}', JSON
    )
    assert response.status == 400
    assert json.loads(response.body)["message"] == (
        "json: cannot unmarshal string into Go struct field ExecStartOptions.ConsoleSize "
        "of type [2]uint"
    )


def test_console_size_decodes_as_go_does() -> None:
    assert decode_console_size(None, "ExecOptions") is None
    assert decode_console_size([], "ExecOptions") == (0, 0)
    assert decode_console_size([7], "ExecOptions") == (7, 0)
    assert decode_console_size([7, 8, "ignored"], "ExecOptions") == (7, 8)
    for bad, kind in ((1.5, "number 1.5"), (True, "bool"), (2**64, f"number {2**64}")):
        with pytest.raises(InvalidParameter, match=f"unmarshal {kind} into"):
            decode_console_size([1, bad], "ExecOptions")


def test_exec_environment_merges_as_dockerd() -> None:
    config = {"Env": ["PATH=/opt/bin", "TERM=linux", "A=1"]}
    assert exec_environment(config, "h", ["A", "B=2"], tty=True) == [
        "PATH=/opt/bin", "HOSTNAME=h", "TERM=linux", "B=2",
    ]  # fmt: skip
    assert exec_environment({}, "h", [], tty=False)[1:] == ["HOSTNAME=h"]


def test_an_interactive_exec_ends_when_its_client_goes_away(
    engine: EngineProcess, box: str
) -> None:
    # Without a TTY the client's stdin is the process's: its EOF ends the shell, as in dockerd.
    body = {"Cmd": ["sh"], "AttachStdin": True, "AttachStdout": True, "AttachStderr": True}
    exec_id = create_exec(engine, box, body)
    client = hijack_exec(engine, exec_id, tty=False)
    wait_for(lambda: inspect_exec(engine, exec_id)["Running"])
    pid = inspect_exec(engine, exec_id)["Pid"]
    assert os.path.exists(f"/proc/{pid}")
    client.close()
    wait_for(lambda: not inspect_exec(engine, exec_id)["Running"])
    assert inspect_exec(engine, exec_id)["ExitCode"] == 0
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"))


def test_a_tty_exec_outlives_its_client_as_in_dockerd(engine: EngineProcess, box: str) -> None:
    """dockerd only closes the output of a TTY exec whose client left (container/stream
    CopyStreams keeps a TTY's stdin open; ContainerExecStart runs under context.Background(),
    so its kill-on-cancel branch never fires): `docker exec -it c sh` stays, Running true,
    until the process ends. Debian's dockerd 20.10 and podman 4.3 were seen doing just that."""
    body = {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True}
    exec_id = create_exec(engine, box, body)
    client = hijack_exec(engine, exec_id, tty=True)
    client.sendall(b"echo ready\n")
    seen = b""
    while b"ready\r\n" not in seen.replace(b"echo ready", b""):
        chunk = client.recv(4096)
        assert chunk, seen
        seen += chunk
    pid = inspect_exec(engine, exec_id)["Pid"]
    client.close()
    time.sleep(2)
    assert inspect_exec(engine, exec_id)["Running"] is True
    assert os.path.exists(f"/proc/{pid}")
    # Its end is still recorded once nobody is attached.
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not inspect_exec(engine, exec_id)["Running"])
    assert inspect_exec(engine, exec_id)["ExitCode"] == 137


def test_inspect_lists_the_running_execs(docker: DockerCLI, box: str) -> None:
    docker("exec", "-d", box, "sleep", "2")
    listed = json.loads(docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout)
    assert isinstance(listed, list) and len(listed) == 1
    wait_for(lambda: docker("inspect", "-f", "{{json .ExecIDs}}", box).stdout == "null\n")
