"""What the guest's init does to the system: mounts, modules, network, the data disk, power.

The plans (which mounts, which network commands) are data so they can be read and tested;
``mount``, ``umount`` and ``reboot`` go straight to libc, as an init has nothing else to call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MNT_DETACH = 0x2
RB_POWER_OFF = 0x4321FEDC

DATA_DISK = "/dev/vdb"
DATA_ROOT = "/var/lib/doca"
DATA_LABEL = "doca-data"
EXT4_MAGIC_OFFSET = 1024 + 0x38
EXT4_MAGIC = b"\x53\xef"
HOSTNAME = "doca"
# QEMU's user-mode network: the guest's address, the gateway and the DNS forwarder it offers.
GUEST_ADDRESS = "10.0.2.15/24"
GATEWAY = "10.0.2.2"
NAMESERVER = "10.0.2.3"
#: The mount options of a shared host folder: coherent with the host (no page cache of file
#: data), shared writable mmap allowed, big messages for throughput.
SHARE_OPTIONS = "trans=virtio,version=9p2000.L,msize=262144,cache=mmap,access=client"
TOKEN_FILE = "/sys/firmware/qemu_fw_cfg/by_name/opt/doca/token/raw"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    fstype: str
    flags: int = 0
    data: str = ""


#: Mounted first, in this order (/dev is devtmpfs already: the initrd moved it here).
EARLY_MOUNTS = (
    Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    Mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"),
    Mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666"),
    Mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
    Mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    Mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"),
    Mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
)
DEV_LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
}

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(m: Mount) -> None:
    os.makedirs(m.target, exist_ok=True)
    result = _libc.mount(
        m.source.encode(), m.target.encode(), m.fstype.encode(), m.flags, m.data.encode()
    )
    _check(result, f"mount {m.fstype} on {m.target}")


def umount(target: str) -> None:
    """Unmount ``target``; detach it lazily when it is busy."""
    if _libc.umount2(target.encode(), 0) != 0:
        _libc.umount2(target.encode(), MNT_DETACH)


def power_off() -> None:
    os.sync()
    _libc.reboot(RB_POWER_OFF)


def early_filesystems() -> None:
    for m in EARLY_MOUNTS:
        mount(m)
    for link, target in DEV_LINKS.items():
        if not os.path.lexists(link):
            os.symlink(target, link)


def load_modules(names: Sequence[str]) -> None:
    subprocess.run(["modprobe", "-a", *names], check=True)


def network_commands(hostname: str = HOSTNAME) -> list[str]:
    """``ip -batch`` lines: loopback, and the user-mode network QEMU offers on eth0."""
    return [
        "link set lo up",
        "link set eth0 up",
        f"addr add {GUEST_ADDRESS} dev eth0",
        f"route add default via {GATEWAY} dev eth0",
    ]


def etc_files(hostname: str = HOSTNAME) -> dict[str, str]:
    return {
        "/etc/hostname": f"{hostname}\n",
        "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{hostname}\n",
        "/etc/resolv.conf": f"nameserver {NAMESERVER}\n",
    }


def network(hostname: str = HOSTNAME) -> None:
    with open("/proc/sys/kernel/hostname", "w") as f:
        f.write(hostname)
    for path, text in etc_files(hostname).items():
        Path(path).write_text(text)
    script = "\n".join(network_commands(hostname)) + "\n"
    subprocess.run(["ip", "-batch", "-"], input=script.encode(), check=True)


def has_ext4(device: str) -> bool:
    with open(device, "rb") as disk:
        disk.seek(EXT4_MAGIC_OFFSET)
        return disk.read(2) == EXT4_MAGIC


def mkfs_data_command(device: str = DATA_DISK) -> list[str]:
    """Formatting the data disk on first boot: inode tables and journal are zeroed lazily, so
    a big sparse disk takes no longer than a small one."""
    return [
        "mkfs.ext4", "-q", "-F", "-L", DATA_LABEL,
        "-E", "lazy_itable_init=1,lazy_journal_init=1", device,
    ]  # fmt: skip


def data_disk(device: str = DATA_DISK, target: str = DATA_ROOT) -> bool:
    """Mount the data disk at ``target``, formatting it first when it is blank; True when it
    was formatted now."""
    fresh = not has_ext4(device)
    if fresh:
        subprocess.run(mkfs_data_command(device), check=True)
    # discard: blocks freed in the VM are freed in the host's sparse disk file too.
    mount(Mount(device, target, "ext4", 0, "discard"))
    return fresh


def share_mounts(shares: Iterable[tuple[str, str]]) -> list[Mount]:
    return [Mount(tag, path, "9p", 0, SHARE_OPTIONS) for tag, path in shares]


def read_token(path: str = TOKEN_FILE) -> bytes:
    """The secret each connection from the host must start with (QEMU passes it as a
    firmware config file, which only the host's user can read)."""
    return Path(path).read_bytes().strip()


def mounts_under(root: str, mounts_text: str) -> list[str]:
    """Mount points at or below ``root`` in a ``/proc/self/mounts`` text, deepest first."""
    found = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].encode().decode("unicode_escape")
        if point == root or point.startswith(root.rstrip("/") + "/"):
            found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)
