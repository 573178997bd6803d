"""Whether an engine answers ``/_ping`` on a unix socket: the ready check of a VM's start."""

from __future__ import annotations

import socket
from pathlib import Path

REQUEST = b"GET /_ping HTTP/1.1\r\nHost: doca\r\nConnection: close\r\n\r\n"


def answers_ping(path: Path, timeout: float = 2.0) -> bool:
    """True when the engine at ``path`` answers ``/_ping`` with 200 OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(REQUEST)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
                if len(reply) > 65536:
                    break
    except OSError:
        return False
    head, _, body = reply.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200" and b"OK" in body
