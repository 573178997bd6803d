"""What goes into the VM image, and the cache key that names a build of it.

The recipe is data: the Debian suite and packages, the kernel modules the guest loads, the
Python distributions the engine imports. The key hashes the recipe, the pinned versions of
those distributions and the digest of the engine's own files, so changing any of them makes a
new image while an unchanged checkout reuses the cached one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Bump when the layout of a built image changes, so cached builds are redone.
FORMAT_VERSION = 1

SUITE = "bookworm"
MIRROR = os.environ.get("DOCA_VM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Empty to leave the security archive out (an offline mirror may not carry it).
SECURITY_MIRROR = os.environ.get(
    "DOCA_VM_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security"
)

#: Installed into the root filesystem: the engine's runtime and what the guest's init runs.
PACKAGES = (
    "python3",
    "crun",
    "conmon",
    "tini",
    "nftables",
    "iproute2",
    "ca-certificates",
    "kmod",
    "e2fsprogs",
)
#: Loaded by the initrd to reach the root disk and lay the writable layer over it (ext4 asks
#: for a crc32c implementation by alias, which the initrd cannot resolve).
BOOT_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "overlay")
#: Loaded by the guest's init: the other virtio devices, the shared folder, the power button,
#: and what container networking needs up front.
GUEST_MODULES = (
    "virtio_net",
    "virtio_balloon",
    "virtio_rng",
    "vmw_vsock_virtio_transport",
    "9pnet_virtio",
    "9p",
    "qemu_fw_cfg",
    "button",
    "evdev",
    "bridge",
    "br_netfilter",
    "veth",
    "nf_tables",
)
#: Directories whose every module is kept: nftables loads its expressions on demand by alias.
MODULE_DIRS = (
    "kernel/net/netfilter",
    "kernel/net/ipv4/netfilter",
    "kernel/net/ipv6/netfilter",
    "kernel/net/bridge",
)
#: The distributions the engine imports; their dependencies come along, pinned.
ENGINE_DISTRIBUTIONS = ("aiohttp", "orjson", "zstandard", "pyroute2", "isal", "bcrypt")
#: Copied into the image's Python environment: the engine, and the guest side of engine_vm.
PAYLOAD = ("engine", "engine_vm/__init__.py", "engine_vm/splice.py", "engine_vm/guest")

_DEBIAN_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def debian_arch(machine: str | None = None) -> str:
    """Debian's name for the architecture the VM runs (the host's own)."""
    machine = (machine or platform.machine()).lower()
    try:
        return _DEBIAN_ARCH[machine]
    except KeyError:
        raise ValueError(f"no VM image for the {machine} architecture") from None


@dataclass(frozen=True)
class Recipe:
    """Everything a build depends on besides the engine's own files."""

    arch: str = field(default_factory=debian_arch)
    suite: str = SUITE
    packages: tuple[str, ...] = PACKAGES
    boot_modules: tuple[str, ...] = BOOT_MODULES
    guest_modules: tuple[str, ...] = GUEST_MODULES
    module_dirs: tuple[str, ...] = MODULE_DIRS
    pins: tuple[str, ...] = ()  # "name==version" of every distribution the engine needs
    format_version: int = FORMAT_VERSION

    @property
    def kernel_package(self) -> str:
        return f"linux-image-{self.arch}"

    def base_key(self) -> str:
        """The key of the Debian part alone (packages, kernel, modules)."""
        debian = asdict(self)
        del debian["pins"]
        return _digest(debian)

    def key(self, payload_digest: str, version: str) -> str:
        """The key of a whole image: the recipe, the engine's version and its files' digest."""
        return _digest({"recipe": asdict(self), "version": version, "payload": payload_digest})


def _digest(value: object) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:16]


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(requirement: str) -> str | None:
    """The distribution a requirement line names, or None when it only applies to an extra."""
    name, _, marker = requirement.partition(";")
    if "extra" in marker:
        return None
    match = _NAME.match(name)
    return canonical_name(match.group(1)) if match else None


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(
    roots: Iterable[str], requires: Callable[[str], Sequence[str] | None]
) -> list[str]:
    """``roots`` and every distribution they need, as ``requires(name)`` tells (None when the
    distribution is not installed: a dependency for another platform or Python), sorted."""
    seen: set[str] = set()
    pending = [canonical_name(root) for root in roots]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        needs = requires(name)
        if needs is None:
            continue
        seen.add(name)
        pending += [dep for dep in map(requirement_name, needs) if dep is not None]
    return sorted(seen)


def pins(names: Iterable[str], versions: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(f"{name}=={versions[name]}" for name in sorted(names))


def payload_files(site: Path, payload: Iterable[str] = PAYLOAD) -> list[Path]:
    """The files of ``payload`` (paths relative to ``site``, the directory the packages are
    imported from), without bytecode caches, in a stable order."""
    files: list[Path] = []
    for entry in payload:
        path = site / entry
        if path.is_dir():
            files += [
                p for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]  # fmt: skip
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path} is missing: the engine's files are not all there")
    return sorted(files)


def payload_digest(site: Path, files: Iterable[Path]) -> str:
    """A digest of the payload's relative paths and contents."""
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(site)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]
