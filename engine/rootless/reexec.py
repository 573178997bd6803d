"""Entering the engine's user namespace: the one place that forks, maps and re-executes.

The outer process forks a child that unshares a user, mount and network namespace and waits;
the outer process has ``newuidmap``/``newgidmap`` write the child's maps, starts slirp4netns on
its network namespace and lets it go; the child makes its mounts private and executes the
engine again, marked as inside. The outer process stays the engine's parent: it opens the host
sockets of published ports for it (``port_driver``), passes on the signals a supervisor sends
it and exits with the engine's status, so ``kill <pid>`` and a service manager see one engine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from engine.errors import InvalidParameter, SystemError_
from engine.rootless import namespaces
from engine.rootless.idmaps import RootlessMaps, helper_argv, rootless_maps
from engine.rootless.mark import INSIDE_MARK, in_namespace
from engine.rootless.port_driver import FD_MARK, PortDriver
from engine.rootless.prerequisites import gather, missing, namespace_findings
from engine.rootless.slirp import Slirp
from engine.userns.subids import SUBGID_FILE, SUBUID_FILE, parse_subids

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
HELPER_TIMEOUT = 30


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except FileNotFoundError:
        return ""


def load_maps() -> RootlessMaps:
    """The calling user's mapping, from /etc/subuid and /etc/subgid."""
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return rootless_maps(
        user, uid, gid, parse_subids(_read(SUBUID_FILE)), parse_subids(_read(SUBGID_FILE))
    )


def _check_host() -> None:
    problems = missing(namespace_findings(gather()))
    if problems:
        first = problems[0]
        raise InvalidParameter(
            f"rootless mode: {first.what}: {first.detail} (run 'doca setup rootless' for "
            "what to do)"
        )


def _child(argv: Sequence[str], ready_w: int, go_r: int, ports_fd: int) -> NoReturn:
    """The forked child: unshare, report, wait for the maps, execute the engine again."""
    try:
        namespaces.unshare(
            namespaces.CLONE_NEWUSER | namespaces.CLONE_NEWNS | namespaces.CLONE_NEWNET
        )
        os.write(ready_w, b"1")
        os.close(ready_w)
        if os.read(go_r, 1) != b"1":
            os._exit(1)  # the outer process gave up; it says why
        os.close(go_r)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        namespaces.make_mounts_private()
        env = {**os.environ, INSIDE_MARK: str(os.getppid()), FD_MARK: str(ports_fd)}
        os.execve(sys.executable, [sys.executable, "-m", "engine", *argv], env)
    except BaseException as exc:  # nothing may escape a forked child
        with contextlib.suppress(OSError):
            os.write(2, f"doca-engine: cannot enter the user namespace: {exc}\n".encode())
    os._exit(1)


def _write_maps(pid: int, maps: RootlessMaps) -> None:
    for helper, entries in (("newuidmap", maps.mapping.uids), ("newgidmap", maps.mapping.gids)):
        argv = helper_argv(helper, pid, entries)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=HELPER_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SystemError_(f"{helper}: {exc}") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise SystemError_(f"{' '.join(argv)} failed: {output or done.returncode}")


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_outside(argv: Sequence[str]) -> int:
    """Run the engine in a new user namespace and return its exit status."""
    _check_host()
    maps = load_maps()
    ports = PortDriver()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        _child(argv, ready_w, go_r, ports.theirs.fileno())
    os.close(ready_w)
    os.close(go_r)
    ports.start()
    slirp: Slirp | None = None
    try:
        if os.read(ready_r, 1) != b"1":
            raise SystemError_("cannot create a user namespace (see the message above)")
        _write_maps(pid, maps)
        slirp = Slirp.start(pid)
        # Installed before the child runs the engine, so no signal is lost in between.
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, lambda number, _frame: os.kill(pid, number))
        os.write(go_w, b"1")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait(pid)
        ports.close()
        if slirp is not None:
            slirp.stop()
        raise
    finally:
        os.close(ready_r)
        os.close(go_w)
    try:
        return _wait(pid)
    finally:
        ports.close()
        if slirp is not None:
            slirp.stop()


def settle_inside(environ: Mapping[str, str] | None = None) -> None:
    """In the re-executed engine: stop with the outer process, and bring up loopback."""
    env = os.environ if environ is None else environ
    namespaces.die_with_parent(signal.SIGTERM)
    if str(os.getppid()) != env.get(INSIDE_MARK):
        raise SystemError_("the rootless engine's outer process has exited")
    namespaces.loopback_up()


def enter_user_namespace(argv: Sequence[str]) -> None:
    """Outside the namespace: run the engine inside it, then exit with its status (never
    returns). Inside: finish setting up and return, to run the engine."""
    if in_namespace():
        settle_inside()
        return
    if os.geteuid() == 0 and os.getuid() == 0:
        raise InvalidParameter("rootless mode is for unprivileged users: run without --rootless")
    sys.exit(run_outside(argv))
