"""An unprivileged user for the rootless engine's tests, with a subordinate ID range of its own
in /etc/subuid and /etc/subgid, and the way to run commands as that user.

The test interpreter may live under a directory the user cannot enter (``/root``); then the
command runs in a private mount namespace where that directory is a world-readable tmpfs with
just the interpreter's installation bound back into it; where the host keeps /dev/net/tun or
/dev/fuse to root, a node of the usual 0666 mode stands in for it there. Nothing changes on the
host.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine import short_root

SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
RANGE = 65536
DEVICES = (Path("/dev/net/tun"), Path("/dev/fuse"))
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run as root in a private mount namespace: make the interpreter reachable (see the module's
# docstring), then become the user.
_LAUNCH = r"""
set -e
user=$1 stage=$2 blocked=$3 prefix=$4 nodes=$5
shift 5
bind_node() {  # stand-in device major minor
    [ -e "$1" ] || mknod -m 666 "$1" c "$3" "$4"
    mount --bind "$1" "$2"
}
for node in $nodes; do
    bind_node $(echo "$node" | tr : ' ')
done
if [ -n "$blocked" ]; then
    mount --bind "$prefix" "$stage"
    mount -t tmpfs -o mode=755 tmpfs "$blocked"
    mkdir -p "$prefix"
    mount --bind "$stage" "$prefix"
fi
exec runuser -u "$user" -- "$@"
"""


def _world_usable(path: Path) -> bool:
    return path.stat().st_mode & 0o006 == 0o006


def _blocked_ancestor(path: Path) -> Path | None:
    """The topmost directory above ``path`` that others may not search, if any."""
    for directory in reversed(path.parents):
        if directory != Path("/") and not os.stat(directory).st_mode & 0o001:
            return directory
    return None


@dataclass
class RootlessUser:
    name: str
    uid: int
    gid: int
    home: Path
    run_dir: Path  # XDG_RUNTIME_DIR
    sub_start: int
    scratch: Path  # root-owned, for the mount staging directory

    @property
    def socket(self) -> Path:
        return self.run_dir / "doca" / "doca.sock"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "doca.pid"

    def environ(self, **extra: str) -> dict[str, str]:
        """The user's whole environment for the docker CLI and the engine (``extra`` wins;
        an empty value leaves a variable out)."""
        values = {
            "HOME": str(self.home),
            "PATH": PATH,
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.home / "docker-config"),
            "NO_COLOR": "1",
            **extra,
        }
        return {key: value for key, value in values.items() if value}

    def env(self, **extra: str) -> list[str]:
        """``environ`` as an ``env -i`` command prefix."""
        return ["env", "-i", *(f"{key}={value}" for key, value in self.environ(**extra).items())]

    def launch_argv(self, argv: Sequence[str], **env: str) -> list[str]:
        """``argv`` run as the user, with this interpreter reachable."""
        prefix = Path(sys.base_prefix)
        blocked = _blocked_ancestor(prefix)
        stage = self.scratch / "stage"
        stage.mkdir(exist_ok=True)
        # slirp4netns opens /dev/net/tun, fuse-overlayfs /dev/fuse, as the user; where the
        # host keeps them root's only, nodes of the usual mode stand in for them in the
        # private mount namespace.
        nodes = " ".join(
            f"{self.scratch / device.name}:{device}:{os.major(rdev)}:{os.minor(rdev)}"
            for device in DEVICES
            if device.exists() and not _world_usable(device)
            for rdev in (device.stat().st_rdev,)
        )
        return [
            "unshare", "--mount", "--propagation", "private", "sh", "-c", _LAUNCH, "launch",
            self.name, str(stage), str(blocked or ""), str(prefix), nodes, *self.env(**env), *argv,
        ]  # fmt: skip

    def run(
        self, argv: Sequence[str], *, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.launch_argv(argv, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def owned_pids(self) -> list[int]:
        """Processes running as the user or as one of its subordinate IDs: only this module
        starts any (the user and the range are its own)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                uid = entry.stat().st_uid
            except FileNotFoundError:
                continue
            if uid == self.uid or self.sub_start <= uid < self.sub_start + RANGE:
                pids.append(int(entry.name))
        return pids


def _restore(saved: dict[Path, tuple[bytes, os.stat_result] | None]) -> None:
    for path, before in saved.items():
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before[0])
            os.chmod(path, before[1].st_mode & 0o7777)
            os.utime(path, ns=(before[1].st_atime_ns, before[1].st_mtime_ns))


def unavailable() -> str | None:
    """Why a rootless user cannot be made and used here; None when it can."""
    if os.geteuid() != 0:
        return "creating a user needs root"
    for tool in ("newuidmap", "newgidmap", "crun", "useradd", "userdel", "runuser", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@contextlib.contextmanager
def rootless_user(prefix: str = "drl", first_range: int = 200_000_000) -> Iterator[RootlessUser]:
    """A new user with a subordinate range of its own (``first_range`` onwards, far above the
    usual 100000); removed, and /etc/subuid and /etc/subgid restored byte for byte, at the end.
    Skips (a test) where that cannot be done."""
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    saved = {
        path: (path.read_bytes(), os.stat(path)) if path.exists() else None for path in SUBID_FILES
    }
    name = prefix + secrets.token_hex(4)
    scratch = short_root()
    created = False
    account: RootlessUser | None = None
    try:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
        created = True
        info = pwd.getpwnam(name)
        # useradd may have given the user a range already: replace the files with the saved
        # ones plus a range of this module's own, far above the usual 100000.
        start = first_range + secrets.randbelow(4000) * RANGE
        for path, before in saved.items():
            text = before[0] if before else b""
            lead = b"\n" if text and not text.endswith(b"\n") else b""
            path.write_bytes(text + lead + f"{name}:{start}:{RANGE}\n".encode())
        os.chmod(scratch, 0o711)  # the user reaches its runtime directory below it
        run_dir = scratch / "run"
        run_dir.mkdir(mode=0o700)
        os.chown(run_dir, info.pw_uid, info.pw_gid)
        home = Path(info.pw_dir)
        config = home / "docker-config"
        config.mkdir()
        os.chown(config, info.pw_uid, info.pw_gid)
        account = RootlessUser(name, info.pw_uid, info.pw_gid, home, run_dir, start, scratch)
        yield account
    finally:
        if account is not None:
            for pid in account.owned_pids():
                _kill(pid)
            deadline = time.monotonic() + 10
            while account.owned_pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        if created:
            subprocess.run(["userdel", "-r", name], capture_output=True, check=False)
        _restore(saved)
        shutil.rmtree(scratch, ignore_errors=True)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
