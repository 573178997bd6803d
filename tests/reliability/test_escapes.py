"""The classic container escapes fail under the engine's default confinement.

Each attempt runs as ``docker run --rm busybox sh -c …`` and must fail inside the container
while the host stays as it was. What is expected is what Debian's dockerd does with the same
flags: the default capability set, Docker's seccomp profile, masked and read-only /proc paths,
a read-only /sys and the device cgroup.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.reliability.summary import record
from tests.support.engine import DockerCLI, EngineProcess

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("loaded_busybox")]

SECTION = "escapes"
#: CapEff of a default Docker container: the 14 capabilities dockerd grants.
DOCKER_DEFAULT_CAPS = "00000000a80425fb"


def attempt(docker: DockerCLI, script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``docker run --rm [flags] busybox sh -c script``, whatever its exit status."""
    return docker("run", "--rm", *flags, "busybox", "sh", "-c", script, check=False)


def refused(result: subprocess.CompletedProcess[str], *messages: str) -> None:
    """The attempt exited non-zero and said why in one of ``messages``."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the attempt succeeded:\n{output}"
    assert any(m.lower() in output.lower() for m in messages), output


def host_tmpfs_from_none() -> list[str]:
    """Mount points of ``mount -t tmpfs none …`` mounts in the host's mount namespace.

    Only these: other engines and containers mount and unmount overlays all the time."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        fstype, source, *_ = tail.split()
        if fstype == "tmpfs" and source == "none":
            points.append(head.split()[4])
    return sorted(points)


def test_mount_is_refused(docker: DockerCLI) -> None:
    before = host_tmpfs_from_none()
    script = "mount -t tmpfs none /mnt; rc=$?; grep -q ' /mnt ' /proc/self/mountinfo && echo IN"
    result = attempt(docker, script + "; exit $rc")
    refused(result, "permission denied")
    assert "IN" not in result.stdout.split()
    assert host_tmpfs_from_none() == before
    record(SECTION, "mount -t tmpfs none /mnt", "refused")


def test_kernel_hostname_is_not_writable(docker: DockerCLI) -> None:
    host_name = socket.gethostname()
    sysctl = Path("/proc/sys/kernel/hostname").read_text()
    result = attempt(docker, "echo escaped > /proc/sys/kernel/hostname")
    refused(result, "read-only file system")
    assert socket.gethostname() == host_name
    assert Path("/proc/sys/kernel/hostname").read_text() == sysctl
    record(SECTION, "write /proc/sys/kernel/hostname", "refused")


def test_sysrq_trigger_is_not_writable(docker: DockerCLI, engine: EngineProcess) -> None:
    # Not "b": should the file ever be writable, the suite must not reboot the host it runs
    # on. A key the kernel has no action for only logs its help, and is refused the same way.
    host_has_it = Path("/proc/sysrq-trigger").exists()
    result = attempt(docker, "echo _ > /proc/sysrq-trigger")
    refused(result, "read-only file system", "nonexistent", "no such file")
    if not host_has_it:
        # This kernel has no such file; the container must not have one either.
        assert attempt(docker, "test -e /proc/sysrq-trigger").returncode != 0
    assert engine.answers_ping()
    record(SECTION, "write /proc/sysrq-trigger", "refused")


def test_kcore_and_other_masked_proc_files_read_empty(docker: DockerCLI) -> None:
    result = attempt(docker, "cat /proc/kcore 2>/dev/null | head -c 1 | wc -c")
    assert result.returncode == 0 and result.stdout.split() == ["0"], result
    # /proc/kcore may be missing from this kernel altogether; these two are masked the same
    # way and hold something on the host, so an empty read shows the masking itself.
    masked = [p for p in ("/proc/timer_list", "/proc/keys") if Path(p).read_bytes()]
    script = "; ".join(f"head -c 1 {p} | wc -c" for p in masked)
    result = attempt(docker, script)
    assert result.stdout.split() == ["0"] * len(masked), result
    record(SECTION, "read /proc/kcore (and timer_list, keys)", "refused (empty)")


def test_sys_is_read_only(docker: DockerCLI) -> None:
    knob = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not knob.exists():
        pytest.skip(f"{knob} is not on this kernel")
    before = knob.read_text()
    # Ask for a setting other than the host's, so a write that got through would show.
    current = before.split("[")[1].split("]")[0]
    wanted = "never" if current != "never" else "always"
    try:
        result = attempt(docker, f"echo {wanted} > {knob}")
        refused(result, "read-only file system")
        refused(attempt(docker, "touch /sys/escaped"), "read-only file system")
        assert knob.read_text() == before
        assert not Path("/sys/escaped").exists()
    finally:
        if knob.read_text() != before:
            knob.write_text(current)
    record(SECTION, "write under /sys", "refused")


def host_disk() -> tuple[int, int]:
    """major, minor of the block device that holds the host's root filesystem."""
    dev = os.stat("/").st_dev
    if os.major(dev) != 0:
        return os.major(dev), os.minor(dev)
    # An anonymous device (overlay, btrfs): take the first disk the kernel lists instead.
    for line in Path("/proc/partitions").read_text().splitlines()[2:]:
        major, minor, _, _ = line.split()
        return int(major), int(minor)
    pytest.skip("no block device on this host")


def test_host_disk_cannot_be_read_through_mknod(docker: DockerCLI) -> None:
    major, minor = host_disk()
    # mknod itself is allowed (CAP_MKNOD is a default capability, as in Docker); the device
    # cgroup is what refuses to open the node. Only ever read: never write to the host disk.
    result = attempt(docker, f"mknod /tmp/disk b {major} {minor} && head -c 512 /tmp/disk | wc -c")
    assert "Operation not permitted" in result.stderr, result
    assert result.stdout.split() == ["0"], result
    listing = attempt(docker, "ls /dev").stdout.split()
    assert not [name for name in listing if name.startswith(("vd", "sd", "nvme", "xvd"))]
    record(SECTION, f"mknod b {major}:{minor} + read", "refused")


def test_raw_socket_needs_net_raw(docker: DockerCLI) -> None:
    result = attempt(docker, "ping -c1 -W2 127.0.0.1", "--cap-drop", "NET_RAW")
    refused(result, "permission denied", "operation not permitted")
    allowed = attempt(docker, "ping -c1 -W2 127.0.0.1")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "1 packets received" in allowed.stdout
    record(SECTION, "raw socket (ping) with --cap-drop NET_RAW", "refused")


def test_engine_socket_is_not_reachable(docker: DockerCLI, engine: EngineProcess) -> None:
    script = f"test -e /run/doca || test -e {engine.socket} || find / -xdev -type s | grep ."
    result = attempt(docker, script)
    assert result.returncode != 0, result.stdout + result.stderr
    record(SECTION, "reach the engine's socket", "refused")


def test_engine_socket_is_reachable_when_bind_mounted(
    docker: DockerCLI, engine: EngineProcess
) -> None:
    mounted = attempt(docker, "stat -c %F /s.sock", "-v", f"{engine.socket}:/s.sock")
    assert mounted.returncode == 0 and mounted.stdout.strip() == "socket", mounted


def test_no_new_privileges(docker: DockerCLI) -> None:
    script = "grep NoNewPrivs /proc/self/status"
    assert attempt(docker, script).stdout.split() == ["NoNewPrivs:", "0"]
    result = attempt(docker, script, "--security-opt", "no-new-privileges")
    assert result.stdout.split() == ["NoNewPrivs:", "1"], result
    record(SECTION, "gain privileges with --security-opt no-new-privileges", "refused")


def test_normal_runs_need_no_privileged(docker: DockerCLI) -> None:
    result = attempt(docker, "grep -E '^(CapEff|Seccomp):' /proc/self/status; echo ran")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["CapEff:", DOCKER_DEFAULT_CAPS, "Seccomp:", "2", "ran"]
    record(SECTION, "capabilities beyond Docker's default set", "refused (no --privileged)")


def test_seccomp_refuses_new_user_namespace(docker: DockerCLI) -> None:
    # Creating a user namespace needs no capability, so the refusal is seccomp's own; without
    # the profile the same call succeeds. dockerd answers both the same way.
    refused(attempt(docker, "unshare -U true"), "operation not permitted")
    unconfined = attempt(docker, "unshare -U true", "--security-opt", "seccomp=unconfined")
    assert unconfined.returncode == 0, unconfined.stderr
    # With CAP_SYS_ADMIN Docker's profile allows unshare (clone flags are checked only
    # without it): dockerd runs `unshare -m` then, and so must the engine.
    with_admin = attempt(docker, "unshare -m true", "--cap-add", "SYS_ADMIN")
    assert with_admin.returncode == 0, with_admin.stderr
    record(SECTION, "unshare -U (seccomp)", "refused")
