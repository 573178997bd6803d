"""``docker load -i`` of a ~50 MB image: the busybox test image plus one layer of 50 MB of
random (incompressible) bytes. The tar is built once; ``docker rmi`` before each run removes the
image and its big layer (the busybox layer stays: the test image holds it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.cases import Result, interleave, timed_ms
from benchmarks.engines import Engine
from tests.support.testimage import build_layer_tar, build_rootfs_tar, build_save_tar

REFERENCE = "bench/load:1"
LAYER_BYTES = 50 * 1024 * 1024


def image_tar(directory: Path) -> Path:
    rootfs = build_rootfs_tar(directory / "rootfs.tar")
    layer = build_layer_tar(directory / "layer.tar", {"data/blob": os.urandom(LAYER_BYTES)})
    save = directory / "image.tar"
    build_save_tar(save, rootfs, (REFERENCE,), extra_layers=[layer])
    layer.unlink()
    return save


def run(engines: list[Engine], runs: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="doca-bench-load-") as tmp:
        tar = image_tar(Path(tmp))

        def measure(engine: Engine) -> float:
            engine.cli("rmi", "-f", REFERENCE, check=False)
            return timed_ms(lambda: engine.cli("load", "-q", "-i", str(tar)))

        try:
            samples = interleave(engines, runs, measure)
        finally:
            for engine in engines:
                engine.cli("rmi", "-f", REFERENCE, check=False)
    size = LAYER_BYTES // (1024 * 1024)
    return [
        Result(
            f"`docker load -i` of a ~{size} MB image (busybox + one random layer)", "ms", samples
        )
    ]
