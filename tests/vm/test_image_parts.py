"""The image's pure parts: the recipe and its cache key, the modules kept, the initrd, and
what the guest's init plans to do."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from engine_vm import image, initrd, kernel_modules, recipe
from engine_vm.guest import init as guest_init
from engine_vm.guest import power, system

# --------------------------------------------------------------------------------------------
# Recipe and key


def test_key_changes_with_the_recipe_the_version_and_the_payload() -> None:
    base = recipe.Recipe(arch="amd64", pins=("aiohttp==3.9.0",))
    key = base.key("payload1", "0.1.0")
    assert key == recipe.Recipe(arch="amd64", pins=("aiohttp==3.9.0",)).key("payload1", "0.1.0")
    assert key != base.key("payload2", "0.1.0")
    assert key != base.key("payload1", "0.2.0")
    assert key != dataclasses.replace(base, pins=("aiohttp==3.9.1",)).key("payload1", "0.1.0")
    assert key != dataclasses.replace(base, packages=(*base.packages, "htop")).key(
        "payload1", "0.1.0"
    )


def test_base_key_ignores_the_python_pins() -> None:
    """The Debian part is rebuilt only when the Debian part changes."""
    one = recipe.Recipe(arch="amd64", pins=("aiohttp==3.9.0",))
    assert one.base_key() == dataclasses.replace(one, pins=("aiohttp==3.10.0",)).base_key()
    assert one.base_key() != dataclasses.replace(one, guest_modules=("veth",)).base_key()
    assert one.kernel_package == "linux-image-amd64"


def test_dependency_closure_skips_extras_and_what_is_not_installed() -> None:
    requires = {
        "aiohttp": ["yarl<2,>=1.0", "multidict>=4.5", "Brotli; extra == 'speedups'",
                    "async-timeout<6; python_version < '3.11'"],
        "yarl": ["multidict>=4.0", "idna>=2.0"],
        "multidict": [],
        "idna": [],
        "brotli": [],
    }  # fmt: skip
    closure = recipe.dependency_closure(["aiohttp"], requires.get)
    assert closure == ["aiohttp", "idna", "multidict", "yarl"]
    assert recipe.pins(closure[:2], {"aiohttp": "3.9", "idna": "3.4"}) == (
        "aiohttp==3.9",
        "idna==3.4",
    )


def test_payload_digest_follows_the_engine_files(tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("x = 1\n")
    (tmp_path / "engine" / "__pycache__").mkdir()
    (tmp_path / "engine" / "__pycache__" / "a.pyc").write_bytes(b"junk")
    files = recipe.payload_files(tmp_path, ("engine",))
    assert files == [tmp_path / "engine" / "__init__.py"]
    before = recipe.payload_digest(tmp_path, files)
    (tmp_path / "engine" / "__pycache__" / "a.pyc").write_bytes(b"other junk")
    assert recipe.payload_digest(tmp_path, recipe.payload_files(tmp_path, ("engine",))) == before
    (tmp_path / "engine" / "__init__.py").write_text("x = 2\n")
    assert recipe.payload_digest(tmp_path, files) != before
    with pytest.raises(FileNotFoundError):
        recipe.payload_files(tmp_path, ("engine_vm/guest",))


def test_the_real_payload_is_complete() -> None:
    files = recipe.payload_files(image.site_directory())
    names = {str(f.relative_to(image.site_directory())) for f in files}
    assert {"engine/__main__.py", "engine_vm/guest/init.py", "engine_vm/splice.py"} <= names
    assert "engine/runtime/seccomp_default.json" in names
    assert not any(name.startswith("engine_vm/control") for name in names)


def test_wheel_platforms_cover_every_manylinux_up_to_bookworm() -> None:
    tags = image.wheel_platforms("amd64")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert image.wheel_platforms("arm64")[0] == "manylinux_2_36_aarch64"


def test_the_image_writes_the_modules_file_init_reads() -> None:
    assert image.MODULES_FILE == guest_init.MODULES_FILE
    assert image.VENV == "/opt/doca"


# --------------------------------------------------------------------------------------------
# Kernel modules

MODULES_DEP = """\
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/net/netfilter/nft_ct.ko: kernel/net/netfilter/nf_tables.ko
kernel/net/netfilter/nf_tables.ko: kernel/lib/crc16.ko
kernel/crypto/crc32c_generic.ko:
kernel/net/9p/9pnet-virtio.ko:
"""


def test_load_order_puts_dependencies_first_once() -> None:
    modules = kernel_modules.parse_modules_dep(MODULES_DEP)
    assert modules["9pnet_virtio"].path == "kernel/net/9p/9pnet-virtio.ko"
    order = kernel_modules.load_order(modules, ["virtio_pci", "ext4", "nft_ct"])
    assert order.index("virtio_pci_modern_dev") < order.index("virtio_pci")
    assert order.index("jbd2") < order.index("ext4") and order.index("crc16") < order.index("ext4")
    assert order.index("nf_tables") < order.index("nft_ct")
    assert len(order) == len(set(order)) == 8


def test_built_in_modules_are_skipped_and_unknown_ones_refused() -> None:
    modules = kernel_modules.parse_modules_dep(MODULES_DEP)
    builtin = kernel_modules.parse_builtin("kernel/fs/ext4/ext4.ko\n")
    assert kernel_modules.load_order(modules, ["ext4"], builtin) == []
    with pytest.raises(ValueError, match="no module 'vboxsf'"):
        kernel_modules.load_order(modules, ["vboxsf"])
    assert kernel_modules.in_dirs(modules, ["kernel/net/netfilter"]) == ["nf_tables", "nft_ct"]


# --------------------------------------------------------------------------------------------
# initrd


def test_cpio_members_as_the_kernel_reads_them() -> None:
    entries = [
        initrd.Entry.directory("bin"),
        initrd.Entry.file("init", b"#!x", 0o755),
        initrd.Entry.char_device("dev/console", 5, 1),
    ]
    data = initrd.cpio_newc(entries)
    assert data.startswith(b"070701")
    assert len(data) % 4 == 0
    members = []
    offset = 0
    while True:
        header = data[offset : offset + 110]
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmajor, rminor, namesize = (
            fields[1],
            fields[6],
            fields[9],
            fields[10],
            fields[11],
        )
        name_start = offset + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body_start = name_start + namesize + (-(110 + namesize) % 4)
        body = data[body_start : body_start + size]
        offset = body_start + size + (-size % 4)
        if name == "TRAILER!!!":
            break
        members.append((name, oct(mode), body, (rmajor, rminor)))
    assert members == [
        ("bin", oct(0o40755), b"", (0, 0)),
        ("init", oct(0o100755), b"#!x", (0, 0)),
        ("dev/console", oct(0o20600), b"", (5, 1)),
    ]
    assert offset == len(data)


def test_initrd_init_loads_modules_in_order_and_switches_to_an_overlay_root() -> None:
    script = initrd.init_script(["virtio_pci", "virtio_blk", "ext4", "overlay"])
    assert script.startswith("#!/bin/busybox sh\n")
    assert "for module in virtio_pci virtio_blk ext4 overlay; do" in script
    assert "mount -t ext4 -o ro /dev/vda /lower" in script
    assert "lowerdir=/lower,upperdir=/upper/root,workdir=/upper/work" in script
    assert "mount --move /dev /newroot/dev" in script
    assert script.rstrip().endswith("exec $bb switch_root /newroot /sbin/doca-init")
    assert "poweroff -f" in script  # a failed boot ends the VM rather than hanging it
    entries = initrd.initrd_entries(b"BB", [("virtio_pci", b"ko1"), ("ext4", b"ko2")])
    names = [e.name for e in entries]
    assert {"init", "bin/busybox", "dev/console", "lib/modules/ext4.ko", "newroot"} <= set(names)


# --------------------------------------------------------------------------------------------
# The guest's init


def test_guest_mounts_api_filesystems_with_cgroup2() -> None:
    targets = [m.target for m in system.EARLY_MOUNTS]
    assert targets[:3] == ["/proc", "/sys", "/sys/fs/cgroup"]
    assert {"/dev/pts", "/dev/shm", "/run", "/tmp"} <= set(targets)
    cgroup = system.EARLY_MOUNTS[2]
    assert cgroup.fstype == "cgroup2"


def test_guest_network_is_qemus_user_network() -> None:
    assert system.network_commands() == [
        "link set lo up",
        "link set eth0 up",
        "addr add 10.0.2.15/24 dev eth0",
        "route add default via 10.0.2.2 dev eth0",
    ]
    assert system.etc_files()["/etc/resolv.conf"] == "nameserver 10.0.2.3\n"


def test_data_disk_formatting_and_share_mounts() -> None:
    assert system.mkfs_data_command("/dev/vdb")[-1] == "/dev/vdb"
    assert "lazy_itable_init=1,lazy_journal_init=1" in system.mkfs_data_command()
    [share] = system.share_mounts([("share0", "/home/me")])
    assert (share.source, share.target, share.fstype) == ("share0", "/home/me", "9p")
    assert "trans=virtio" in share.data


def test_ext4_detection(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.write_bytes(bytes(4096))
    assert not system.has_ext4(str(disk))
    with disk.open("r+b") as f:
        f.seek(system.EXT4_MAGIC_OFFSET)
        f.write(system.EXT4_MAGIC)
    assert system.has_ext4(str(disk))


def test_unmount_order_is_deepest_first() -> None:
    mounts = (
        "/dev/vdb /var/lib/doca ext4 rw 0 0\n"
        "overlay /var/lib/doca/snapshots/a/merged overlay rw 0 0\n"
        "proc /proc proc rw 0 0\n"
        "share0 /var/lib/docanot 9p rw 0 0\n"
    )
    assert system.mounts_under("/var/lib/doca", mounts) == [
        "/var/lib/doca/snapshots/a/merged",
        "/var/lib/doca",
    ]


def test_engine_runs_from_the_images_python_on_the_data_disk() -> None:
    argv = guest_init.engine_argv("/opt/doca/bin/python3")
    assert argv[:3] == ["/opt/doca/bin/python3", "-m", "engine"]
    assert argv[argv.index("-H") + 1] == "unix:///run/doca/engine.sock"
    assert argv[argv.index("--data-root") + 1] == "/var/lib/doca"


def test_power_button_press_is_recognised(tmp_path: Path) -> None:
    def event(kind: int, code: int, value: int) -> bytes:
        return power.INPUT_EVENT.pack(0, 0, kind, code, value)

    assert power.pressed(event(power.EV_KEY, power.KEY_POWER, 1) + event(0, 0, 0))
    assert not power.pressed(event(power.EV_KEY, power.KEY_POWER, 0))  # the release
    assert not power.pressed(event(power.EV_KEY, 30, 1))  # another key
    assert not power.pressed(event(power.EV_KEY, power.KEY_POWER, 1)[:-1])  # half an event
    assert power.INPUT_EVENT.size == struct.calcsize("llHHi") == 24
    for n, name in enumerate(["AT Keyboard", "Power Button"]):
        (tmp_path / f"event{n}" / "device").mkdir(parents=True)
        (tmp_path / f"event{n}" / "device" / "name").write_text(name + "\n")
    assert power.power_button_device(tmp_path) == Path("/dev/input/event1")
