"""Build the VM image from Debian packages and cache it: a kernel, an initrd and a read-only
ext4 root disk holding Python, crun, conmon, nftables and the engine.

Two layers are cached under ``platformdirs.user_cache_dir("doca")/vm``: ``base-<key>`` (the
Debian part: debootstrap's minbase plus the packages, the kernel and the modules it keeps) and
``image-<key>`` (the base plus a Python environment with the engine). Editing the engine
rebuilds only the second, in seconds; changing the recipe rebuilds both. Building needs root
on Linux (debootstrap, chroot); other hosts use an image built there, bundled with the app or
imported from the archive ``python -m engine_vm.image export`` writes (see image_archive).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import platformdirs

from engine_vm import initrd, kernel_modules
from engine_vm.image_layout import (
    IMAGE_PREFIX,
    INITRD,
    KERNEL,
    MANIFEST,
    ROOT_DISK,
    Image,
    ImageBuildError,
    bundled_image,
    installed_image,
    installed_versions,
)
from engine_vm.recipe import (
    ENGINE_DISTRIBUTIONS,
    MIRROR,
    SECURITY_MIRROR,
    Recipe,
    debian_arch,
    dependency_closure,
    payload_digest,
    payload_files,
    pins,
)

ROOTFS_TAR = "rootfs.tar"
#: The modules the guest's init loads (engine_vm.guest.init reads it).
MODULES_FILE = "/etc/doca/modules"
#: The Python environment in the image that runs the engine.
VENV = "/opt/doca"
#: The Python of the Debian suite the image is made of.
GUEST_PYTHON = "3.11"
#: Images kept in the cache besides the newest (a running VM may still use one).
KEEP_OLD_IMAGES = 1

# A clean environment for commands in the chroot: nothing of the host's shell leaks in.
_CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
# invoke-rc.d's switch: 101 forbids every service action, as image builds do.
_POLICY_RC_D = "#!/bin/sh\nexit 101\n"
# Left out of the image: documentation, translations and package caches.
_PRUNED = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "var/cache/apt", "var/lib/apt/lists", "var/log", "tmp",
)  # fmt: skip
_INIT_LAUNCHER = f"""#!{VENV}/bin/python3 -I
# PID 1 of the VM: see engine_vm/guest/init.py.
from engine_vm.guest.init import main

main()
"""


def cache_root() -> Path:
    override = os.environ.get("DOCA_VM_CACHE")
    return Path(override) if override else Path(platformdirs.user_cache_dir("doca")) / "vm"


def site_directory() -> Path:
    """Where the ``engine`` and ``engine_vm`` packages are imported from (a checkout or
    site-packages); found without importing the engine."""
    spec = importlib.util.find_spec("engine")
    if spec is None or not spec.submodule_search_locations:
        raise ImageBuildError("the engine package is not installed")
    return Path(next(iter(spec.submodule_search_locations))).parent


def doca_version() -> str:
    try:
        return importlib.metadata.version("doca")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _requires(name: str) -> list[str] | None:
    try:
        return importlib.metadata.distribution(name).requires or []
    except importlib.metadata.PackageNotFoundError:
        return None


def engine_pins() -> tuple[str, ...]:
    """The engine's distributions and their dependencies at the versions this Python has."""
    names = dependency_closure(ENGINE_DISTRIBUTIONS, _requires)
    versions = {name: importlib.metadata.version(name) for name in names}
    return pins(names, versions)


def current_recipe() -> Recipe:
    return Recipe(pins=engine_pins())


def image_key(recipe: Recipe, site: Path) -> str:
    return recipe.key(payload_digest(site, payload_files(site)), doca_version())


def cached_image(recipe: Recipe | None = None, cache: Path | None = None) -> Image | None:
    """The complete image for ``recipe`` (default: this engine's) in the cache, or None."""
    key = image_key(recipe or current_recipe(), site_directory())
    image = Image((cache or cache_root()) / f"{IMAGE_PREFIX}{key}", key)
    return image if (image.directory / MANIFEST).exists() else None


def archive_name(version: str, arch: str) -> str:
    """The file name of the prebuilt image for doca ``version`` on ``arch``."""
    return f"doca-vm-{version}-{arch}.tar.gz"


def why_cannot_build(system: str | None = None) -> str | None:
    """Why this host cannot build the image, in words for the user; None when it can."""
    system = system or platform.system()
    if system != "Linux":
        return f"building the VM image needs Linux (this host runs {system})"
    if os.geteuid() != 0:
        return "building the VM image needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None:
        return "building the VM image needs debootstrap, which is not installed"
    return None


def ensure_image(
    recipe: Recipe | None = None, cache: Path | None = None, log: Callable[[str], None] = print
) -> Image:
    """The image to boot: the one bundled with the app, else the cached one for this engine
    (built first when there is none), else, where no image can be built, the prebuilt image
    installed for this version."""
    bundled = bundled_image()
    if bundled is not None:
        return bundled
    cache = cache or cache_root()
    reason = why_cannot_build()
    if reason is not None:
        return _exact_image(recipe, cache) or _installed_or_fail(cache, reason)
    recipe = recipe or current_recipe()
    found = cached_image(recipe, cache)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache / ".lock"):
        found = cached_image(recipe, cache)  # built by another process while we waited
        if found is not None:
            return found
        return _Builder(recipe, cache, log).build()


def _exact_image(recipe: Recipe | None, cache: Path) -> Image | None:
    """The image built for exactly this engine's files, when they are there to be hashed (a
    frozen app carries no engine files: it goes by version)."""
    try:
        return cached_image(recipe, cache)
    except (ImageBuildError, FileNotFoundError):
        return None


def _installed_or_fail(cache: Path, reason: str) -> Image:
    version, arch = doca_version(), debian_arch()
    found = installed_image(cache, version, arch)
    if found is not None:
        return found
    others = installed_versions(cache) if cache.is_dir() else []
    there = f"; {cache} holds images for doca {', '.join(others)} only" if others else ""
    raise ImageBuildError(
        f"{reason}. Install the prebuilt image for doca {version} ({arch}) instead: "
        f"python -m engine_vm.image import {archive_name(version, arch)}{there}"
    )


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` between the processes that build or install
    images; where there is no ``fcntl`` (Windows) nothing is locked, and the atomic renames
    alone keep the cache consistent."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prune_images(cache: Path, newest: Path) -> None:
    """Delete the images older than ``newest`` but the last ``KEEP_OLD_IMAGES``."""
    images = sorted(cache.glob(f"{IMAGE_PREFIX}*"), key=lambda p: p.stat().st_mtime)
    for old in [p for p in images if p != newest][: -KEEP_OLD_IMAGES or None]:
        shutil.rmtree(old, ignore_errors=True)


class _Builder:
    def __init__(self, recipe: Recipe, cache: Path, log: Callable[[str], None]) -> None:
        self.recipe = recipe
        self.cache = cache
        self.log = log
        self.site = site_directory()
        self.key = image_key(recipe, self.site)
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        self.log(f"[vm image {time.monotonic() - self.started:5.1f}s] {message}")

    def build(self) -> Image:
        base = self.cache / f"base-{self.recipe.base_key()}"
        if not (base / MANIFEST).exists():
            self._build_base(base)
        final = self.cache / f"{IMAGE_PREFIX}{self.key}"
        work = self.cache / f".work-{self.key}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            root = work / "root"
            root.mkdir(parents=True)
            self.say(f"unpacking the base ({base.name})")
            _run(["tar", "-C", str(root), "--numeric-owner", "-xpf", str(base / ROOTFS_TAR)])
            self._install_engine(root)
            out = work / "out"
            out.mkdir()
            for name in (KERNEL, INITRD):
                shutil.copy2(base / name, out / name)
            self.say("writing the root disk")
            make_ext4(root, out / ROOT_DISK, label="doca-root")
            manifest = {
                "key": self.key,
                "version": doca_version(),
                "recipe": asdict(self.recipe),
                "base": json.loads((base / MANIFEST).read_text()),
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            shutil.rmtree(final, ignore_errors=True)
            os.rename(out, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._prune(final)
        self.say(f"image ready: {final}")
        return Image(final, self.key)

    def _install_engine(self, root: Path) -> None:
        self.say("installing the engine's Python environment")
        _chroot(root, "python3", "-m", "venv", "--without-pip", VENV)
        site = root / VENV.lstrip("/") / f"lib/python{GUEST_PYTHON}/site-packages"
        if self.recipe.pins:
            _run([
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(site),
                "--implementation", "cp", "--python-version", GUEST_PYTHON,
                "--abi", "cp" + GUEST_PYTHON.replace(".", ""),
                *(f"--platform={tag}" for tag in wheel_platforms(self.recipe.arch)),
                *self.recipe.pins,
            ])  # fmt: skip
        for path in payload_files(self.site):
            target = site / path.relative_to(self.site)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        modules = root / MODULES_FILE.lstrip("/")
        modules.parent.mkdir(parents=True, exist_ok=True)
        modules.write_text("\n".join(self.recipe.guest_modules) + "\n")
        launcher = root / initrd.NEXT_INIT.lstrip("/")
        launcher.write_text(_INIT_LAUNCHER)
        launcher.chmod(0o755)
        # The root disk is read-only in the VM: bytecode must be there before it boots.
        _chroot(root, f"{VENV}/bin/python3", "-m", "compileall", "-q", "-j0", VENV)

    def _build_base(self, base: Path) -> None:
        work = self.cache / f".work-{base.name}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        root = work / "root"
        try:
            work.mkdir(parents=True)
            self.say(f"debootstrap {self.recipe.suite} minbase + {len(self.recipe.packages)} "
                     "packages")  # fmt: skip
            _run([
                "debootstrap", "--variant=minbase", f"--arch={self.recipe.arch}",
                f"--include={','.join(self.recipe.packages)}", self.recipe.suite, str(root),
                MIRROR,
            ])  # fmt: skip
            policy = root / "usr/sbin/policy-rc.d"
            policy.write_text(_POLICY_RC_D)
            policy.chmod(0o755)
            (root / "etc/apt/sources.list").write_text(sources_list(self.recipe.suite))
            with _mounted_proc(root):
                self.say("security updates, and downloading the kernel and busybox")
                _chroot(root, "apt-get", "update", "-q")
                _chroot(root, "apt-get", "upgrade", "-y", "-q")
                _chroot(root, "apt-get", "install", "-y", "-q", "--download-only",
                        "--no-install-recommends", self.recipe.kernel_package,
                        "busybox-static")  # fmt: skip
                out = work / "out"
                out.mkdir()
                kernel_version = self._install_kernel(root, out)
                packages = _chroot(root, "dpkg-query", "-W", "-f=${Package} ${Version}\\n")
            policy.unlink()
            for pruned in _PRUNED:
                path = root / pruned
                if path.is_dir():
                    shutil.rmtree(path)
                    path.mkdir(mode=0o1777 if pruned == "tmp" else 0o755)
            self.say("packing the base")
            _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(out / ROOTFS_TAR), "."])
            manifest = {
                "key": self.recipe.base_key(),
                "kernel": kernel_version,
                "packages": packages.splitlines(),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            shutil.rmtree(base, ignore_errors=True)
            os.rename(out, base)
        finally:
            _unmount_under(root)
            shutil.rmtree(work, ignore_errors=True)

    def _install_kernel(self, root: Path, out: Path) -> str:
        """Unpack the kernel package beside the tree, keep the modules the recipe needs in
        it, and write the kernel and the initrd to ``out``; returns the kernel's version."""
        archives = root / "var/cache/apt/archives"
        kernel_deb = _only(archives.glob("linux-image-[0-9]*.deb"), "kernel package")
        busybox_deb = _only(archives.glob("busybox-static_*.deb"), "busybox-static package")
        unpacked = root / "tmp/doca-kernel"
        _run(["dpkg-deb", "-x", str(kernel_deb), str(unpacked)])
        version = _only((unpacked / "lib/modules").iterdir(), "kernel version").name
        _chroot(root, "depmod", "-b", "/tmp/doca-kernel", version)
        modules_dir = unpacked / "lib/modules" / version
        modules = kernel_modules.parse_modules_dep((modules_dir / "modules.dep").read_text())
        builtin = kernel_modules.parse_builtin((modules_dir / "modules.builtin").read_text())
        recipe = self.recipe
        wanted = [*recipe.boot_modules, *recipe.guest_modules]
        wanted += kernel_modules.in_dirs(modules, recipe.module_dirs)
        kept = root / "lib/modules" / version
        for name in kernel_modules.load_order(modules, wanted, builtin):
            target = kept / modules[name].path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(modules_dir / modules[name].path, target)
        for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
            shutil.copy2(modules_dir / name, kept / name)
        _chroot(root, "depmod", version)
        shutil.copy2(_only((unpacked / "boot").glob("vmlinuz-*"), "kernel image"), out / KERNEL)
        busybox_dir = root / "tmp/doca-busybox"
        _run(["dpkg-deb", "-x", str(busybox_deb), str(busybox_dir)])
        boot = kernel_modules.load_order(modules, recipe.boot_modules, builtin)
        entries = initrd.initrd_entries(
            (busybox_dir / "bin/busybox").read_bytes(),
            [(name, (modules_dir / modules[name].path).read_bytes()) for name in boot],
        )
        (out / INITRD).write_bytes(initrd.cpio_newc(entries))
        shutil.rmtree(unpacked)
        shutil.rmtree(busybox_dir)
        return version

    def _prune(self, newest: Path) -> None:
        prune_images(self.cache, newest)
        base = f"base-{self.recipe.base_key()}"
        for old in self.cache.glob("base-*"):
            if old.name != base:
                shutil.rmtree(old, ignore_errors=True)


def sources_list(suite: str) -> str:
    lines = [f"deb {MIRROR} {suite} main", f"deb {MIRROR} {suite}-updates main"]
    if SECURITY_MIRROR:
        lines.append(f"deb {SECURITY_MIRROR} {suite}-security main")
    return "\n".join(lines) + "\n"


def wheel_platforms(arch: str) -> list[str]:
    """pip's platform tags for a glibc Linux guest: every manylinux up to bookworm's glibc."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)] + [
        f"manylinux2014_{machine}"
    ]


def make_ext4(tree: Path, image: Path, label: str) -> None:
    """An ext4 image of ``tree``, sized to fit it, without a journal (it is mounted
    read-only)."""
    used = int(_run(["du", "-s", "--block-size=1M", str(tree)]).split()[0])
    size_mb = used + used // 4 + 64
    image.unlink(missing_ok=True)
    _run([
        "mkfs.ext4", "-q", "-F", "-L", label, "-O", "^has_journal", "-m", "0",
        "-E", "root_owner=0:0", "-d", str(tree), str(image), f"{size_mb}M",
    ])  # fmt: skip


def _only(paths: Iterator[Path] | Sequence[Path], what: str) -> Path:
    found = list(paths)
    if len(found) != 1:
        raise ImageBuildError(f"expected one {what}, found {[str(p) for p in found]}")
    return found[0]


def _run(argv: Sequence[str]) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise ImageBuildError(f"{' '.join(argv[:4])} ... exited {result.returncode}:\n{output}")
    return result.stdout


def _chroot(root: Path, *argv: str) -> str:
    result = subprocess.run(
        ["chroot", str(root), *argv], env=_CHROOT_ENV, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise ImageBuildError(f"{' '.join(argv[:4])} (in the image) exited "
                              f"{result.returncode}:\n{output}")  # fmt: skip
    return result.stdout


@contextlib.contextmanager
def _mounted_proc(root: Path) -> Iterator[None]:
    _run(["mount", "-t", "proc", "proc", str(root / "proc")])
    try:
        yield
    finally:
        _unmount_under(root)


def _unmount_under(root: Path) -> None:
    """Unmount whatever is mounted at or below ``root`` (debootstrap leaves /proc and /sys
    mounted when it fails); never delete through a mount point."""
    if not root.exists():
        return
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = Path(line.split()[1].encode().decode("unicode_escape"))
        if point == root or root in point.parents:
            points.append(point)
    for point in sorted(points, key=lambda p: len(p.parts), reverse=True):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)


if __name__ == "__main__":
    from engine_vm.image_cli import main

    sys.exit(main())
