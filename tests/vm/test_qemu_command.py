"""QEMU's command line per platform and link, the accelerator choice, and the kernel command
line the guest reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_vm import accel, qemu_command
from engine_vm.guest import cmdline
from engine_vm.options import GIB, MIB, VMOptions, format_size, parse_size
from engine_vm.qemu_command import BootFiles, Link

FILES = BootFiles(
    kernel=Path("/img/vmlinuz"),
    initrd=Path("/img/initrd.img"),
    root_disk=Path("/img/root.img"),
    data_disk=Path("/state/data.img"),
    console_log=Path("/state/console.log"),
    qmp_socket=Path("/state/qmp.sock"),
    pidfile=Path("/state/qemu.pid"),
    token=Path("/state/token"),
)


def options(tmp_path: Path, **changes: object) -> VMOptions:
    values: dict[str, object] = {"cpus": 4, "memory": 3 * GIB, "shares": (str(tmp_path),)}
    values.update(changes)
    return VMOptions(**values)  # type: ignore[arg-type]


def value_of(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == flag]


def test_kvm_boots_microvm_with_the_host_cpu_and_loopback_forward(tmp_path: Path) -> None:
    argv = qemu_command.qemu_command(
        "qemu-system-x86_64", options(tmp_path), FILES, Link("tcp", host_port=40123), "kvm"
    )
    assert argv[0] == "qemu-system-x86_64"
    assert value_of(argv, "-M") == ["microvm,pcie=on,rtc=on"]
    assert value_of(argv, "-accel") == ["kvm"]
    assert value_of(argv, "-cpu") == ["host"]
    assert value_of(argv, "-smp") == ["4"]
    assert value_of(argv, "-m") == ["3072M"]
    assert value_of(argv, "-kernel") == ["/img/vmlinuz"]
    assert value_of(argv, "-initrd") == ["/img/initrd.img"]
    netdev = value_of(argv, "-netdev")
    assert netdev == ["user,id=net0,hostfwd=tcp:127.0.0.1:40123-:2375"]
    assert "virtio-balloon-pci,free-page-reporting=on" in value_of(argv, "-device")
    assert not any(d.startswith("vhost-vsock") for d in value_of(argv, "-device"))
    assert value_of(argv, "-qmp") == ["unix:/state/qmp.sock,server=on,wait=off"]
    assert value_of(argv, "-pidfile") == ["/state/qemu.pid"]
    assert value_of(argv, "-fw_cfg") == ["name=opt/doca/token,file=/state/token"]
    assert "-no-reboot" in argv


def test_disks_root_read_only_data_discarding(tmp_path: Path) -> None:
    argv = qemu_command.qemu_command("q", options(tmp_path), FILES, Link("tcp", 1), "kvm")
    drives = value_of(argv, "-drive")
    assert drives == [
        "if=none,id=root,file=/img/root.img,format=raw,readonly=on",
        "if=none,id=data,file=/state/data.img,format=raw,discard=unmap,detect-zeroes=unmap",
    ]
    assert value_of(argv, "-device")[:2] == [
        "virtio-blk-pci,drive=root",
        "virtio-blk-pci,drive=data",
    ]


def test_vsock_link_adds_the_device_and_no_port_forward(tmp_path: Path) -> None:
    argv = qemu_command.qemu_command("q", options(tmp_path), FILES, Link("vsock", cid=77), "kvm")
    assert "vhost-vsock-pci,guest-cid=77" in value_of(argv, "-device")
    assert value_of(argv, "-netdev") == ["user,id=net0"]
    assert "doca.transport=vsock" in value_of(argv, "-append")[0]


@pytest.mark.parametrize(
    ("accelerator", "machine", "accel_arg", "cpu"),
    [
        ("tcg", "q35", "tcg,thread=multi", "max"),
        ("hvf", "q35", "hvf", "host"),
        ("whpx", "q35", "whpx,kernel-irqchip=off", "max"),
    ],
)
def test_accelerators_per_platform(
    tmp_path: Path, accelerator: str, machine: str, accel_arg: str, cpu: str
) -> None:
    argv = qemu_command.qemu_command("q", options(tmp_path), FILES, Link("tcp", 1), accelerator)
    assert value_of(argv, "-M") == [machine]
    assert value_of(argv, "-accel") == [accel_arg]
    assert value_of(argv, "-cpu") == [cpu]


def test_arm64_uses_the_virt_machine(tmp_path: Path) -> None:
    argv = qemu_command.qemu_command(
        qemu_command.binary("aarch64"), options(tmp_path), FILES, Link("tcp", 1), "hvf", "aarch64"
    )
    assert argv[0] == "qemu-system-aarch64"
    assert value_of(argv, "-M") == ["virt"]


def test_shares_are_9p_devices_with_commas_escaped(tmp_path: Path) -> None:
    odd = tmp_path / "a,b c"
    odd.mkdir()
    opts = options(tmp_path, shares=(str(tmp_path), str(odd)))
    argv = qemu_command.qemu_command("q", opts, FILES, Link("tcp", 1), "kvm", euid=0)
    assert value_of(argv, "-fsdev") == [
        f"local,id=fs0,path={tmp_path},security_model=passthrough",
        f"local,id=fs1,path={tmp_path}/a,,b c,security_model=passthrough",
    ]
    devices = value_of(argv, "-device")
    assert "virtio-9p-pci,fsdev=fs0,mount_tag=share0" in devices
    assert "virtio-9p-pci,fsdev=fs1,mount_tag=share1" in devices
    # A user's QEMU cannot chown on the host.
    user = qemu_command.qemu_command("q", opts, FILES, Link("tcp", 1), "kvm", euid=1000)
    assert all(f.endswith("security_model=none") for f in value_of(user, "-fsdev"))


def test_kernel_cmdline_round_trips_through_the_guest_parser(tmp_path: Path) -> None:
    odd = tmp_path / "with space%"
    odd.mkdir()
    opts = options(tmp_path, shares=(str(tmp_path), str(odd)))
    line = qemu_command.kernel_cmdline(opts, Link("tcp", host_port=9, guest_port=2375))
    assert "quiet" in line.split() and "console=ttyS0" in line.split()
    assert " with space" not in line  # one word per parameter
    config = cmdline.parse(f"BOOT_IMAGE=x {line} init=/y")
    assert config.port == 2375 and config.transport == "tcp"
    assert config.shares == (
        cmdline.Share("share0", str(tmp_path)),
        cmdline.Share("share1", str(odd)),
    )
    debug = qemu_command.kernel_cmdline(options(tmp_path, debug=True), Link("tcp", 1))
    assert "quiet" not in debug.split() and cmdline.parse(debug).debug


def test_guest_parser_rejects_what_it_cannot_serve() -> None:
    with pytest.raises(ValueError, match="transport"):
        cmdline.parse("doca.transport=carrier-pigeon")
    with pytest.raises(ValueError, match="TAG:PATH"):
        cmdline.parse("doca.share=nopath")
    assert cmdline.parse("doca.future=1 quiet") == cmdline.GuestConfig()


@pytest.mark.parametrize(
    ("system", "machine", "kvm", "flags", "expected"),
    [
        ("Linux", "x86_64", True, {"vmx"}, "kvm"),
        ("Linux", "x86_64", True, {"svm", "sse"}, "kvm"),
        # A paravirtual KVM (no VT-x/AMD-V shown): distribution kernels do not run there.
        ("Linux", "x86_64", True, {"sse", "avx2"}, "tcg"),
        ("Linux", "x86_64", False, {"vmx"}, "tcg"),
        ("Linux", "aarch64", True, set(), "kvm"),
        ("Darwin", "arm64", False, set(), "hvf"),
        ("Windows", "AMD64", False, set(), "whpx"),
    ],
)
def test_accelerator_choice(
    system: str, machine: str, kvm: bool, flags: set[str], expected: str
) -> None:
    assert accel.choose(system, machine, kvm, flags) == expected


def test_cpu_flags_from_cpuinfo() -> None:
    text = "processor\t: 0\nflags\t\t: fpu vme vmx sse\n\nprocessor\t: 1\nflags\t: fpu\n"
    assert accel.cpu_flags(text) == {"fpu", "vme", "vmx", "sse"}


def test_sizes_as_the_docker_cli_reads_them() -> None:
    assert parse_size("2g") == 2 * GIB
    assert parse_size("512m") == 512 * MIB
    assert parse_size("20GiB") == 20 * GIB
    assert parse_size("1.5G") == 3 * GIB // 2
    assert parse_size("1048576") == MIB
    with pytest.raises(ValueError, match="invalid size: 'lots'"):
        parse_size("lots")
    assert format_size(2 * GIB) == "2 GiB"
    assert format_size(512 * MIB) == "512 MiB"


def test_options_refuse_what_cannot_boot(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 256 MiB"):
        VMOptions(memory=64 * MIB, shares=())
    with pytest.raises(ValueError, match="at least 1 GiB"):
        VMOptions(disk=MIB, shares=())
    with pytest.raises(ValueError, match="not an absolute path"):
        VMOptions(shares=("relative",))
    with pytest.raises(ValueError, match="cover the VM's own"):
        VMOptions(shares=("/var/lib/doca",))
    with pytest.raises(ValueError, match="not a directory"):
        VMOptions(shares=(str(tmp_path / "missing"),))
