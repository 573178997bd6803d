"""Debian's podman as a Docker API service (``podman system service``) on a root of its own.

Everything podman can be told to keep elsewhere lives under ``root``: storage, run root, tmp
dir, volumes, network configs, file locks (not the shared ``/dev/shm/libpod_lock``) and its
containers/registries/storage configs, so the host's own podman set-up is never read or
written. Rootful podman 4.3 still creates two host paths whatever it is told: the blob-info
cache ``/var/lib/containers/cache`` and netavark's ``/run/containers/networks``; ``stop``
removes those again when this service created them.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.engine import wait_ready

PODMAN = shutil.which("podman") or "/usr/bin/podman"
NPROC_CAP = 32768

#: Host paths podman 4.3 creates as root whatever its flags say, each with the file it writes.
HOST_PATHS: tuple[tuple[Path, str | None], ...] = (
    (Path("/var/lib/containers/cache"), "blob-info-cache-v1.boltdb"),
    (Path("/run/containers/networks"), None),
)


def podman_available() -> bool:
    return os.path.exists(PODMAN) and os.geteuid() == 0


def containers_conf() -> str:
    # Root here lacks CAP_SYS_RESOURCE, so podman's rootful default ulimits (nofile 1048576)
    # make crun fail at setrlimit: ask for no more than podman's children get (they see
    # nproc 32768 whatever this process has).
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    limits = {
        "nofile": nofile,
        "nproc": NPROC_CAP if nproc == resource.RLIM_INFINITY else min(nproc, NPROC_CAP),
    }
    ulimits = ", ".join(
        f'"{name}={value}:{value}"'
        for name, value in limits.items()
        if value != resource.RLIM_INFINITY
    )
    return f'[containers]\ndefault_ulimits = [{ulimits}]\n\n[engine]\nlock_type = "file"\n'


def registries_conf() -> str:
    """No search registries; loopback registries over plain HTTP, as dockerd allows by default
    (a location without a port matches every port of that host)."""
    return (
        "unqualified-search-registries = []\n"
        'short-name-mode = "permissive"\n\n'
        '[[registry]]\nlocation = "127.0.0.1"\ninsecure = true\n'
    )


def storage_conf(root: Path) -> str:
    return (
        f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "storage"}"\n'
        f'runroot = "{root / "run"}"\n'
    )


@dataclass
class PodmanService:
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    #: the HOST_PATHS that did not exist before this service started
    created: list[tuple[Path, str | None]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.root / "podman.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        r = self.root
        return [
            PODMAN,
            "--root", str(r / "storage"),
            "--runroot", str(r / "run"),
            "--tmpdir", str(r / "tmp"),
            "--volumepath", str(r / "volumes"),
            "--network-config-dir", str(r / "networks"),
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
            "system", "service", "--time=0", self.host,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        r = self.root
        return {
            **os.environ,
            "CONTAINERS_CONF": str(r / "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(r / "registries.conf"),
            "CONTAINERS_STORAGE_CONF": str(r / "storage.conf"),
            "XDG_RUNTIME_DIR": str(r / "xdg"),
            "TMPDIR": str(r / "tmp"),  # big temporary files of image copies (else /var/tmp)
        }

    def start(self, ping: Callable[[], bool], timeout: float = 30) -> None:
        for name in ("tmp", "xdg", "networks", "run"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        (self.root / "containers.conf").write_text(containers_conf())
        (self.root / "registries.conf").write_text(registries_conf())
        (self.root / "storage.conf").write_text(storage_conf(self.root))
        self.created = [(path, name) for path, name in HOST_PATHS if not path.exists()]
        log = (self.root / "podman.log").open("ab")
        self.proc = subprocess.Popen(
            self.argv(),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_ready(self.proc, ping, timeout, self._log_text)

    def _log_text(self) -> str:
        return (self.root / "podman.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Stop the service by its PID, then what it left: monitors and clean-up processes
        naming this root (exec sessions keep their conmon for minutes), mounts, host paths."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_leftovers()
        self._unmount()
        self._remove_host_paths()

    def _kill_leftovers(self) -> None:
        mine = str(self.root) + "/"
        left = []
        for proc in psutil.process_iter(["cmdline"]):
            if any(mine in arg for arg in proc.info["cmdline"] or ()):
                left.append(proc)
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(left, timeout=5)

    def _unmount(self) -> None:
        """Unmount everything under the root, deepest first (storage keeps a private bind
        mount of its overlay directory)."""
        prefix = str(self.root) + "/"
        points = []
        with open("/proc/self/mountinfo") as mountinfo:
            for line in mountinfo:
                point = line.split()[4]
                if point.startswith(prefix):
                    points.append(point)
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", point], capture_output=True, check=False)

    def _remove_host_paths(self) -> None:
        # Only the file podman writes, then directories that are left empty: anything else
        # there belongs to someone else.
        for path, name in self.created:
            if name is not None:
                (path / name).unlink(missing_ok=True)
            for directory in (path, path.parent):
                with contextlib.suppress(OSError):
                    directory.rmdir()
