"""A user namespace with the remapping, kept open for idmapped mounts.

``mount_setattr(MOUNT_ATTR_IDMAP)`` takes the mapping from a user namespace, not from a list of
ranges. The engine makes one such namespace per mapping and keeps its descriptor for as long as
it runs: a child process enters a new user namespace and stops itself, the engine writes the
child's uid_map and gid_map, opens /proc/<child>/ns/user and lets the child go. No process lives
in the namespace afterwards; the descriptor alone keeps it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from engine.errors import SystemError_
from engine.userns.idmap import IdentityMapping
from engine.userns.syscalls import unshare_user


def _new_user_namespace(mapping: IdentityMapping) -> int:
    pid = os.fork()
    if pid == 0:  # the child only unshares and stops: nothing that could need a lock
        try:
            if unshare_user() == 0:
                os.kill(os.getpid(), signal.SIGSTOP)
        finally:
            os._exit(0)
    try:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            raise SystemError_("cannot create a user namespace: unshare failed")
        proc = f"/proc/{pid}"
        with open(f"{proc}/uid_map", "w") as uid_map:
            uid_map.write(IdentityMapping.proc_text(mapping.uids))
        with open(f"{proc}/gid_map", "w") as gid_map:
            gid_map.write(IdentityMapping.proc_text(mapping.gids))
        return os.open(f"{proc}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemError_(f"cannot create a user namespace: {exc}") from exc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


class MappedNamespace:
    """The user namespace of ``mapping``, made at first use; ``close`` releases it."""

    def __init__(self, mapping: IdentityMapping) -> None:
        self.mapping = mapping
        self._fd: int | None = None
        self._lock = threading.Lock()

    def fd(self) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = _new_user_namespace(self.mapping)
            return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
