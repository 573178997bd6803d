"""What a VM image is on disk, and where a ready one is found without building it.

An image is a directory of four files: the kernel, the initrd, the root disk and
``image.json`` (its key, the doca version and the recipe it was built from). Besides the
images built into the cache, one can be bundled with a frozen app (``vm-image`` in the
bundle, or wherever ``DOCA_VM_IMAGE`` points) or imported into the cache from an archive
built on Linux: macOS and Windows cannot build one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

KERNEL = "vmlinuz"
INITRD = "initrd.img"
ROOT_DISK = "root.img"
MANIFEST = "image.json"
#: Every file of an image, in the order an archive holds them (the small ones first).
IMAGE_FILES = (MANIFEST, KERNEL, INITRD, ROOT_DISK)
#: Names an image directory in the cache: ``image-<key>``.
IMAGE_PREFIX = "image-"
#: The unpacked image inside a frozen app's bundle.
BUNDLED_DIR = "vm-image"
#: Points at an unpacked image to use instead of the cache (and instead of building one).
IMAGE_ENV = "DOCA_VM_IMAGE"


class ImageBuildError(Exception):
    pass


@dataclass(frozen=True)
class Image:
    """A built image: the files QEMU boots."""

    directory: Path
    key: str

    @property
    def kernel(self) -> Path:
        return self.directory / KERNEL

    @property
    def initrd(self) -> Path:
        return self.directory / INITRD

    @property
    def root_disk(self) -> Path:
        return self.directory / ROOT_DISK

    @property
    def manifest(self) -> dict[str, object]:
        return read_manifest(self.directory)


def read_manifest(directory: Path) -> dict[str, object]:
    data = json.loads((directory / MANIFEST).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{directory / MANIFEST} does not hold a JSON object")
    return data


def missing_files(directory: Path) -> list[str]:
    return [name for name in IMAGE_FILES if not (directory / name).is_file()]


def image_arch(manifest: Mapping[str, object]) -> str | None:
    """The Debian architecture an image's ``image.json`` was built for."""
    recipe = manifest.get("recipe")
    arch = recipe.get("arch") if isinstance(recipe, dict) else None
    return arch if isinstance(arch, str) else None


def bundled_directory(
    environ: Mapping[str, str] = os.environ, bundle_root: str | None = None
) -> Path | None:
    """Where a bundled image would be: ``$DOCA_VM_IMAGE``, else ``vm-image`` in a frozen
    app's bundle (``sys._MEIPASS`` unless ``bundle_root`` is given) when it is there."""
    if environ.get(IMAGE_ENV):
        return Path(environ[IMAGE_ENV])
    root = bundle_root if bundle_root is not None else getattr(sys, "_MEIPASS", None)
    if root is None:
        return None
    candidate = Path(root) / BUNDLED_DIR
    return candidate if candidate.is_dir() else None


def bundled_image(
    environ: Mapping[str, str] = os.environ, bundle_root: str | None = None
) -> Image | None:
    """The image shipped with the app, or None when there is none. One that is named but
    incomplete is an error: falling back to another image would hide a broken install."""
    directory = bundled_directory(environ, bundle_root)
    if directory is None:
        return None
    missing = missing_files(directory)
    if missing:
        raise ImageBuildError(
            f"{directory} is not a VM image ({', '.join(missing)} missing); "
            f"{IMAGE_ENV} names a directory made by "
            "`python -m engine_vm.image import ARCHIVE --to DIR`"
        )
    try:
        key = read_manifest(directory).get("key")
    except ValueError as exc:
        raise ImageBuildError(f"{directory / MANIFEST} is unreadable: {exc}") from None
    return Image(directory, str(key))


def _complete_images(cache: Path) -> Iterator[tuple[Path, dict[str, object]]]:
    """Each complete image directory in ``cache`` with its readable manifest."""
    for directory in cache.glob(f"{IMAGE_PREFIX}*"):
        if missing_files(directory):
            continue
        try:
            yield directory, read_manifest(directory)
        except ValueError:
            continue


def installed_image(cache: Path, version: str, arch: str) -> Image | None:
    """The newest complete image in ``cache`` made for doca ``version`` on ``arch``: what a
    host that cannot build uses (an imported image, or one copied there)."""
    found: list[tuple[float, Image]] = []
    for directory, manifest in _complete_images(cache):
        if manifest.get("version") == version and image_arch(manifest) == arch:
            key = str(manifest.get("key"))
            found.append(((directory / MANIFEST).stat().st_mtime, Image(directory, key)))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def installed_versions(cache: Path) -> list[str]:
    """The doca versions of the complete images in ``cache`` (for an error that says why
    none of them fits)."""
    return sorted({f"{m.get('version')} ({image_arch(m)})" for _, m in _complete_images(cache)})
