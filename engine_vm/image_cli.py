"""``python -m engine_vm.image``: build the VM image, export it as an archive, or import one.

    python -m engine_vm.image build
    python -m engine_vm.image export OUT [--image DIR] [--level N]
    python -m engine_vm.image import ARCHIVE [--to DIR]

``export`` writes this engine's image (built first when needed; ``--image`` names another
image directory) to ``OUT``, a file or a directory. ``import`` installs an archive's image
into the cache, or with ``--to`` unpacks it into a new directory (what the app bundles).
Errors go to stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from engine_vm import image_archive
from engine_vm.image import ensure_image
from engine_vm.image_layout import Image, ImageBuildError, bundled_image, read_manifest

PROG = "python -m engine_vm.image"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description="The engine's VM image.")
    verbs = top.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    verbs.add_parser("build", help="build (or find) this engine's image in the cache")
    export = verbs.add_parser("export", help="write the image as an archive")
    export.add_argument("out", type=Path, metavar="OUT", help="archive file or directory")
    export.add_argument("--image", type=Path, help="an image directory (default: this engine's)")
    export.add_argument("--level", type=int, default=6, choices=range(1, 10), metavar="1-9",
                        help="gzip level (default 6)")  # fmt: skip
    imported = verbs.add_parser("import", help="verify an archive and install its image")
    imported.add_argument("archive", type=Path, metavar="ARCHIVE")
    imported.add_argument("--to", type=Path, metavar="DIR",
                          help="unpack into this new directory instead of the cache")  # fmt: skip
    return top


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _image_at(directory: Path) -> Image:
    image = bundled_image({"DOCA_VM_IMAGE": str(directory)})
    assert image is not None  # a directory given explicitly is always looked at
    return image


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.verb == "build":
        print(ensure_image(log=_log).directory)
    elif args.verb == "export":
        image = _image_at(args.image) if args.image else ensure_image(log=_log)
        _log(f"exporting {image.directory}")
        print(image_archive.export_image(image, args.out, level=args.level))
    elif args.to is not None:
        image = image_archive.unpack_to(args.archive, args.to)
        print(image.directory)
    else:
        image = image_archive.import_image(args.archive)
        info = read_manifest(image.directory)
        _log(f"installed the VM image of doca {info.get('version')} ({image.key})")
        print(image.directory)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ImageBuildError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"{PROG}: {exc.filename}: no such file", file=sys.stderr)
        return 1
