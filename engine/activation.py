"""Sockets handed over by systemd (socket activation, ``-H fd://``), as dockerd takes them.

systemd passes listening sockets as file descriptors from 3 on, with ``LISTEN_PID`` set to the
process meant to take them and ``LISTEN_FDS`` to how many there are. ``fd://`` takes them all;
``fd://N`` only descriptor N.
"""

from __future__ import annotations

import os
import socket

from engine.errors import InvalidParameter

FIRST_FD = 3


def activation_fds(environ: dict[str, str] | None = None) -> list[int]:
    """The descriptors systemd passed to this process (none if it passed none to it)."""
    env = os.environ if environ is None else environ
    try:
        if int(env.get("LISTEN_PID", "0")) != os.getpid():
            return []
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    return list(range(FIRST_FD, FIRST_FD + count))


def activated_fds(address: str, environ: dict[str, str] | None = None) -> list[int]:
    """The descriptors ``fd://`` (all) or ``fd://N`` (one) names; refused when systemd
    passed none or not that one."""
    fds = activation_fds(environ)
    if not fds:
        raise InvalidParameter(f"{address}: no sockets were passed by systemd (LISTEN_FDS)")
    wanted = address.removeprefix("fd://")
    if not wanted:
        return fds
    if not wanted.isdigit() or int(wanted) not in fds:
        raise InvalidParameter(f"{address}: not one of the sockets systemd passed")
    return [int(wanted)]


def activated_sockets(address: str, environ: dict[str, str] | None = None) -> list[socket.socket]:
    """The listening sockets ``address`` names, taken over (call once per descriptor)."""
    sockets = []
    for fd in activated_fds(address, environ):
        os.set_inheritable(fd, False)
        sockets.append(socket.socket(fileno=fd))
    return sockets
