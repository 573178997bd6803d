"""QEMU's command line for the VM, built from the options, the image and the VM's files.

A pure function of its inputs: which accelerator, machine type and devices follow from the
host's platform, nothing here looks at the host itself.

x86-64 boots the ``microvm`` machine (no firmware to run, no legacy devices to probe; PCIe
for the virtio devices) under KVM, and ``q35`` elsewhere: under HVF and WHPX, whose support
for microvm is not established, and under TCG (see ``machine_args``). arm64 boots ``virt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine_vm.guest import cmdline
from engine_vm.options import VMOptions

#: Mount tags of the shared folders: share0, share1, …
SHARE_TAG = "share{}"
TOKEN_FW_CFG = "opt/doca/token"


@dataclass(frozen=True)
class BootFiles:
    """The files one VM boots from and writes to."""

    kernel: Path
    initrd: Path
    root_disk: Path
    data_disk: Path
    console_log: Path
    qmp_socket: Path
    pidfile: Path
    token: Path


@dataclass(frozen=True)
class Link:
    """How the host reaches the guest's engine: ``transport`` "vsock" (to ``cid``) or "tcp"
    (QEMU forwards ``host_port`` on the host's loopback); ``guest_port`` inside."""

    transport: str
    host_port: int = 0
    cid: int = 0
    guest_port: int = cmdline.DEFAULT_PORT


def escape(value: str | Path) -> str:
    """A value inside a QEMU ``-opt key=value,...`` list: commas are doubled."""
    return str(value).replace(",", ",,")


def binary(arch: str) -> str:
    return {"x86_64": "qemu-system-x86_64", "aarch64": "qemu-system-aarch64"}[arch]


def machine_args(arch: str, accelerator: str) -> list[str]:
    if arch == "aarch64":
        return ["-M", "virt,gic-version=max" if accelerator == "tcg" else "virt"]
    if accelerator == "kvm":
        return ["-M", "microvm,pcie=on,rtc=on"]
    # Under TCG, microvm's emulated timer now and then never ticks during the kernel's delay
    # calibration and the boot hangs there; q35 boots a few seconds slower, every time.
    return ["-M", "q35"]


def accelerator_args(accelerator: str) -> list[str]:
    if accelerator == "tcg":
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    if accelerator == "whpx":
        # WHPX has no in-kernel irqchip that QEMU can use everywhere.
        return ["-accel", "whpx,kernel-irqchip=off", "-cpu", "max"]
    return ["-accel", accelerator, "-cpu", "host"]


def share_security_model(euid: int | None) -> str:
    """9p's model for the shared folders: a root QEMU passes owners and modes through as
    they are; a user's QEMU cannot chown, so it ignores what the guest asks there."""
    return "passthrough" if euid == 0 else "none"


def kernel_cmdline(options: VMOptions, link: Link) -> str:
    config = cmdline.GuestConfig(
        port=link.guest_port,
        transport=link.transport,
        shares=tuple(cmdline.Share(SHARE_TAG.format(i), p) for i, p in enumerate(options.shares)),
        debug=options.debug,
    )
    # panic=-1 with -no-reboot: a guest that panics makes QEMU exit instead of hanging.
    words = ["console=ttyS0", "panic=-1", "rootwait"]
    words += [] if options.debug else ["quiet", "loglevel=3"]
    return " ".join([*words, *cmdline.to_params(config)])


def qemu_command(
    qemu: str,
    options: VMOptions,
    files: BootFiles,
    link: Link,
    accelerator: str,
    arch: str = "x86_64",
    euid: int | None = 0,
) -> list[str]:
    """The full argv that boots the VM."""
    argv = [qemu, "-name", "doca", "-nodefaults", "-no-user-config", "-nographic"]
    argv += machine_args(arch, accelerator) + accelerator_args(accelerator)
    argv += ["-smp", str(options.cpus), "-m", f"{options.memory_mib}M"]
    argv += ["-kernel", str(files.kernel), "-initrd", str(files.initrd)]
    argv += ["-append", kernel_cmdline(options, link)]
    argv += _disk("root", files.root_disk, "readonly=on")
    argv += _disk("data", files.data_disk, "discard=unmap,detect-zeroes=unmap")
    argv += _network(link)
    argv += _shares(options.shares, share_security_model(euid))
    argv += ["-device", "virtio-rng-pci"]
    # Free page reporting: memory the guest frees goes back to the host while the VM runs.
    argv += ["-device", "virtio-balloon-pci,free-page-reporting=on"]
    argv += ["-fw_cfg", f"name={TOKEN_FW_CFG},file={escape(files.token)}"]
    argv += ["-chardev", f"file,id=console,path={escape(files.console_log)}"]
    argv += ["-serial", "chardev:console"]
    argv += ["-qmp", f"unix:{escape(files.qmp_socket)},server=on,wait=off"]
    argv += ["-pidfile", str(files.pidfile), "-no-reboot"]
    return argv


def _disk(name: str, path: Path, extra: str) -> list[str]:
    drive = f"if=none,id={name},file={escape(path)},format=raw,{extra}"
    return ["-drive", drive, "-device", f"virtio-blk-pci,drive={name}"]


def _network(link: Link) -> list[str]:
    netdev = "user,id=net0"
    args: list[str] = []
    if link.transport == "tcp":
        netdev += f",hostfwd=tcp:127.0.0.1:{link.host_port}-:{link.guest_port}"
    else:
        args += ["-device", f"vhost-vsock-pci,guest-cid={link.cid}"]
    return ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0", *args]


def _shares(shares: Sequence[str], model: str) -> list[str]:
    args = []
    for i, path in enumerate(shares):
        tag = SHARE_TAG.format(i)
        args += ["-fsdev", f"local,id=fs{i},path={escape(path)},security_model={model}"]
        args += ["-device", f"virtio-9p-pci,fsdev=fs{i},mount_tag={tag}"]
    return args
