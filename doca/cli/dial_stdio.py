"""`doca system dial-stdio`: one raw connection to the engine, copied to and from stdin and
stdout, as `docker system dial-stdio` does. It is what a client runs on the far side of an
SSH connection (``ssh … -- docker system dial-stdio``) to reach that host's engine.

Each direction ends on its own, as the docker CLI ends them: the end of stdin shuts the
connection's sending side (the engine still answers, and an attached ``cat`` still prints
its last output); the end of the engine's answer closes stdout and ends the command, without
waiting for stdin, which a terminal never closes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from typing import NoReturn
from urllib.parse import urlsplit

import click

from doca.cli.runner import GENERAL_ERROR, Session
from doca.client.ssh_connector import parse_ssh_url, ssh_argv

CHUNK = 64 * 1024
PLAIN_TCP_PORT = 2375


def _die(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(GENERAL_ERROR)


def _reason(error: OSError) -> str:
    """An OS error as Go words it (``connect: no such file or directory``)."""
    return (error.strerror or str(error)).lower()


def open_stream(host: str) -> socket.socket:
    """A connected socket to the engine at ``host`` (unix:// or tcp://); OSError, with the
    docker CLI's words, when it cannot be reached."""
    url = urlsplit(host)
    if url.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(url.path)
        except OSError as error:
            sock.close()
            raise OSError(f"dial unix {url.path}: connect: {_reason(error)}") from error
        return sock
    if url.scheme in ("tcp", "http"):
        address = (url.hostname or "localhost", url.port or PLAIN_TCP_PORT)
        try:
            return socket.create_connection(address, timeout=30)
        except OSError as error:
            raise OSError(f"dial tcp {url.netloc}: connect: {_reason(error)}") from error
    raise OSError(f"unsupported engine host {host!r}: use unix:// or tcp://")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def relay(conn: socket.socket, stdin: int, stdout: int) -> None:
    """Copy ``stdin`` to ``conn`` (shutting its sending side at the end of stdin) and ``conn``
    to ``stdout`` until the engine is done; returns then, whatever stdin is doing."""
    conn.settimeout(None)
    failures: list[OSError] = []

    def upstream() -> None:
        try:
            while chunk := os.read(stdin, CHUNK):
                conn.sendall(chunk)
        except OSError as error:
            failures.append(error)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)

    # A daemon thread: a stdin that never ends (a terminal) must not keep the command alive.
    threading.Thread(target=upstream, name="stdin to stream", daemon=True).start()
    try:
        while chunk := conn.recv(CHUNK):
            _write_all(stdout, chunk)
    except BrokenPipeError:
        pass  # whoever reads stdout is gone; nothing more to deliver
    finally:
        # The reader sees the end of the stream; fd 1 itself stays valid for the exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout)
        os.close(devnull)
    if failures:
        raise OSError(f"error while Copy (stdin to stream): {_reason(failures[0])}")


@click.command("dial-stdio", hidden=True)
@click.pass_obj
def dial_stdio(session: Session) -> None:
    """Proxy the stdio stream to the engine connection. Should not be invoked manually."""
    host = session.host
    if urlsplit(host).scheme == "ssh":
        # One more hop: the ssh command's own stdio is the stream.
        try:
            argv = ssh_argv(parse_ssh_url(host))
            os.execvp(argv[0], argv)
        except (ValueError, OSError) as error:
            _die(str(error))
    try:
        conn = open_stream(host)
    except OSError as error:
        _die(f"failed to open the raw stream connection: {error}")
    with conn:
        sys.stdout.flush()
        try:
            relay(conn, sys.stdin.fileno(), sys.stdout.fileno())
        except OSError as error:
            _die(str(error))
