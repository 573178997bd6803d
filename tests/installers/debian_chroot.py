"""A throwaway Debian chroot for package tests: debootstrap's minbase from a tarball cached per
day, /proc mounted while it is in use, services kept from starting, everything it mounted
unmounted and the tree removed afterwards."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("DOCA_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# A clean environment for commands in the chroot: nothing of the host's shell leaks in.
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
# invoke-rc.d's switch: 101 forbids every service action, as image builds do.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "doca-tests"


def _arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def minbase_tarball(scratch: Path) -> Path:
    """Today's debootstrap tarball of the suite's minbase (the packages, not an unpacked tree),
    downloaded once a day; older ones are dropped."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    prefix = f"debootstrap-{SUITE}-minbase-{_arch()}-"
    tarball = cache / f"{prefix}{datetime.date.today().isoformat()}.tgz"
    if tarball.exists():
        return tarball
    partial = cache / f".{tarball.name}.{os.getpid()}"
    try:
        _debootstrap(f"--make-tarball={partial}", scratch / "make-tarball")
        os.replace(partial, tarball)
    finally:
        partial.unlink(missing_ok=True)
    for old in cache.glob(f"{prefix}*.tgz"):
        if old != tarball:
            old.unlink(missing_ok=True)
    return tarball


def _debootstrap(option: str, target: Path) -> None:
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", option, SUITE, str(target), MIRROR],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"debootstrap {option} failed:\n{result.stdout[-3000:]}")


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        # Spaces and the like are octal escapes in /proc/self/mounts.
        point = Path(line.split()[1].encode().decode("unicode_escape"))
        if point == root or root in point.parents:
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(root: Path) -> None:
    """Unmount everything under ``root``; lazily when busy. Raises if anything is left."""
    for point in mounts_under(root):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)
    left = mounts_under(root)
    if left:
        raise RuntimeError(f"still mounted under {root}: {left}")


class Chroot:
    """A minbase tree at ``root``; use it as a context manager to have /proc mounted and the
    whole tree removed at the end."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root
        self.scratch = scratch

    def __enter__(self) -> Chroot:
        try:
            _debootstrap(f"--unpack-tarball={minbase_tarball(self.scratch)}", self.root)
            policy = self.root / "usr/sbin/policy-rc.d"
            policy.write_text(POLICY_RC_D)
            policy.chmod(0o755)
            subprocess.run(["mount", "-t", "proc", "proc", str(self.root / "proc")], check=True)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        # debootstrap mounts /proc and /sys itself and may leave them when it fails. Never
        # delete through a mount point: rmtree would follow it into the host's files.
        unmount_all(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def run(
        self, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the chroot; the result carries its output, whatever its status."""
        return subprocess.run(
            ["chroot", str(self.root), *argv],
            env={**CHROOT_ENV, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )

    def check(self, *argv: str, env: dict[str, str] | None = None) -> str:
        """Run ``argv`` inside the chroot; its stdout, or an AssertionError with its output."""
        result = self.run(*argv, env=env)
        assert result.returncode == 0, (
            f"{' '.join(argv)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        return result.stdout

    def apt_install(self, packages: Sequence[str]) -> str:
        return self.check("apt-get", "install", "-y", "-q", "--no-install-recommends", *packages)
