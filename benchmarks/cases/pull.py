"""``docker pull`` of a ~50 MB image of five layers from Debian's registry on loopback.

The image is pushed once (through Doca), then every measured pull starts from an engine that
does not hold it: ``docker rmi`` before each run removes the image and its layers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.cases import Result, interleave, timed_ms
from benchmarks.engines import Engine
from tests.support.registry import REGISTRY, docker_registry
from tests.support.testimage import build_layer_tar, build_rootfs_tar, build_save_tar

LAYERS = 5
LAYER_BYTES = 10 * 1024 * 1024  # random, so gzip cannot shrink it: ~50 MB on the wire


def _image_tar(directory: Path, reference: str) -> Path:
    rootfs = build_rootfs_tar(directory / "rootfs.tar")
    layers = [
        build_layer_tar(directory / f"layer{n}.tar", {f"data/blob{n}": os.urandom(LAYER_BYTES)})
        for n in range(LAYERS - 1)
    ]
    save = directory / "image.tar"
    build_save_tar(save, rootfs, (reference,), extra_layers=layers)
    return save


def run(engines: list[Engine], runs: int) -> list[Result]:
    if not REGISTRY.exists():
        print(f"  skipped: {REGISTRY} is not installed (apt install docker-registry)")
        return []
    work = Path(tempfile.mkdtemp(prefix="doca-bench-pull-"))
    try:
        with docker_registry(work) as address:
            reference = f"{address}/bench/fifty:1"
            seeder = engines[0]
            seeder.cli("load", "-i", str(_image_tar(work, reference)))
            seeder.cli("push", "-q", reference)

            def measure(engine: Engine) -> float:
                engine.cli("rmi", "-f", reference, check=False)
                return timed_ms(lambda: engine.cli("pull", "-q", reference)) / 1000

            samples = interleave(engines, runs, measure)
            for engine in engines:
                engine.cli("rmi", "-f", reference, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    title = f"`docker pull` of a {LAYERS}-layer, ~{LAYERS * 10} MB image from a local registry"
    return [Result(title, "s", samples)]
