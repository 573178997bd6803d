"""A made-up VM image of small files: enough for the archive format and for code that only
looks an image up (an image QEMU is never asked to boot)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine_vm import image, image_layout
from engine_vm.image_layout import Image
from engine_vm.recipe import debian_arch

KEY = "0123456789abcdef"


def make_image(directory: Path, key: str = KEY, arch: str | None = None) -> Image:
    """The image's four files in ``directory``; the root disk has a run of zeros, as the
    free space of a real one has."""
    directory.mkdir(parents=True)
    info = {"key": key, "version": image.doca_version(), "recipe": {"arch": arch or debian_arch()}}
    (directory / image_layout.MANIFEST).write_text(json.dumps(info))
    (directory / image_layout.KERNEL).write_bytes(os.urandom(3000))
    (directory / image_layout.INITRD).write_bytes(os.urandom(2000))
    root = os.urandom(5000) + bytes(3 * 1024 * 1024) + b"superblock copy" + bytes(100)
    (directory / image_layout.ROOT_DISK).write_bytes(root)
    return Image(directory, key)
