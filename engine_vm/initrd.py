"""The initrd: a static busybox, the few modules that reach the root disk, and an ``/init``
that lays a throwaway writable layer (tmpfs) over the read-only root and switches to it.

The root disk stays read-only so one cached image serves every VM and every boot starts
clean; what must last lives on the data disk. The archive is an uncompressed ``newc`` cpio,
which the kernel unpacks faster than it would decompress one.
"""

from __future__ import annotations

import shlex
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ROOT_DEVICE = "/dev/vda"
NEXT_INIT = "/sbin/doca-init"
#: How long /init waits for the root disk to appear (100 tries of 50 ms).
ROOT_WAIT_TRIES = 100


@dataclass(frozen=True)
class Entry:
    """One member of the archive."""

    name: str  # without a leading slash
    mode: int  # file type and permission bits
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)  # major, minor of a device node

    @classmethod
    def directory(cls, name: str) -> Entry:
        return cls(name, stat.S_IFDIR | 0o755)

    @classmethod
    def file(cls, name: str, data: bytes, mode: int = 0o644) -> Entry:
        return cls(name, stat.S_IFREG | mode, data)

    @classmethod
    def char_device(cls, name: str, major: int, minor: int) -> Entry:
        return cls(name, stat.S_IFCHR | 0o600, rdev=(major, minor))


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def cpio_newc(entries: Iterable[Entry]) -> bytes:
    """The entries as a ``newc`` cpio archive (what the kernel's initramfs unpacker reads),
    with fixed owners and times so equal inputs give equal bytes."""
    out = bytearray()
    for ino, entry in enumerate([*entries, Entry("TRAILER!!!", 0)], start=1):
        name = entry.name.lstrip("/").encode() + b"\0"
        fields = (
            ino, entry.mode, 0, 0, 2 if stat.S_ISDIR(entry.mode) else 1, 0, len(entry.data),
            0, 0, entry.rdev[0], entry.rdev[1], len(name), 0,
        )  # fmt: skip
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        out += header + name + _pad(len(header) + len(name))
        out += entry.data + _pad(len(entry.data))
    return bytes(out)


def init_script(modules: Sequence[str], root_device: str = ROOT_DEVICE) -> str:
    """``/init`` of the initrd: load ``modules`` (in this order, from /lib/modules/<name>.ko),
    mount the root read-only under a tmpfs overlay and hand over to the image's init."""
    names = " ".join(shlex.quote(name) for name in modules)
    return f"""#!/bin/busybox sh
bb=/bin/busybox
fail() {{
    echo "doca initrd: $*" >/dev/console
    $bb poweroff -f
}}
$bb mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
for module in {names}; do
    $bb insmod "/lib/modules/$module.ko" || fail "cannot load $module"
done
tries=0
while [ ! -b {root_device} ]; do
    tries=$((tries + 1))
    [ $tries -gt {ROOT_WAIT_TRIES} ] && fail "no root disk at {root_device}"
    $bb usleep 50000
done
$bb mount -t ext4 -o ro {root_device} /lower || fail "cannot mount the root disk"
$bb mount -t tmpfs -o mode=0755 tmpfs /upper || fail "cannot mount the writable layer"
$bb mkdir -p /upper/root /upper/work
$bb mount -t overlay -o lowerdir=/lower,upperdir=/upper/root,workdir=/upper/work overlay \\
    /newroot || fail "cannot mount the root overlay"
$bb mount --move /dev /newroot/dev || fail "cannot move /dev"
exec $bb switch_root /newroot {NEXT_INIT}
"""


def initrd_entries(busybox: bytes, modules: Sequence[tuple[str, bytes]]) -> list[Entry]:
    """The initrd's members: ``modules`` are (name, .ko bytes) in load order."""
    entries = [Entry.directory(d) for d in ("bin", "dev", "lib", "lib/modules", "lower")]
    entries += [Entry.directory(d) for d in ("newroot", "proc", "sys", "upper")]
    entries.append(Entry.char_device("dev/console", 5, 1))
    entries.append(Entry.file("bin/busybox", busybox, 0o755))
    entries += [Entry.file(f"lib/modules/{name}.ko", data) for name, data in modules]
    entries.append(Entry.file("init", init_script([n for n, _ in modules]).encode(), 0o755))
    return entries
