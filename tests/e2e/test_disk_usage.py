"""docker system df and docker system prune against what is really on disk."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess, short_root
from tests.support.testimage import TestImage


def du_bytes(path: Path) -> int:
    """Bytes of regular files under ``path``, each inode once (what `du -b` counts for data)."""
    total, seen = 0, set()
    for directory, _, files in os.walk(path):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


@pytest.fixture
def fresh(test_image: TestImage) -> Iterator[tuple[EngineProcess, DockerCLI]]:
    if os.geteuid() != 0:
        pytest.skip("a real doca-engine needs root (mounts, device nodes, runtimes)")
    process = EngineProcess(short_root())
    process.start()
    cli = DockerCLI(process.host, process.root)
    cli("load", "-i", str(test_image.save_tar))
    yield process, cli
    process.stop()
    process.cleanup()


def test_df_matches_the_disk_and_prune_frees_it(fresh: tuple[EngineProcess, DockerCLI]) -> None:
    engine, docker = fresh
    docker("run", "--name", "writer", "-v", "named-vol:/named", "-v", "/anon", "busybox", "sh",
           "-c", "head -c 300000 /dev/zero > /big; head -c 200000 /dev/zero > /named/f;"
           " head -c 100000 /dev/zero > /anon/f")  # fmt: skip
    df = engine_df(engine)
    container = next(c for c in df["Containers"] if c["Names"] == ["/writer"])
    upper = next((engine.data_root / "containers").glob(f"{container['Id']}/upper"))
    assert container["SizeRw"] == du_bytes(upper) >= 300000
    sizes = {v["Name"]: v["UsageData"]["Size"] for v in df["Volumes"]}
    assert sizes["named-vol"] == du_bytes(engine.data_root / "volumes/named-vol/_data") == 200000
    assert sorted(sizes.values()) == [100000, 200000]
    layers = sum(du_bytes(d) for d in (engine.data_root / "snapshots").glob("*/diff"))
    assert df["LayersSize"] == layers
    assert df["Images"][0]["Containers"] == 1
    text = docker("system", "df").stdout
    assert "Local Volumes   2" in text

    out = docker("system", "prune", "-af", "--volumes").stdout
    assert "Deleted Containers:" in out and "deleted: sha256:" in out
    assert docker("ps", "-aq").stdout == "" and docker("images", "-q").stdout == ""
    # as with Docker 23+, system prune --volumes takes anonymous volumes; named ones stay
    assert docker("volume", "ls", "-q").stdout.split() == ["named-vol"]
    assert du_bytes(engine.data_root / "snapshots") == 0
    assert list((engine.data_root / "content" / "blobs" / "sha256").iterdir()) == []
    docker("volume", "prune", "-af")
    assert du_bytes(engine.data_root / "volumes") == 0


def engine_df(engine: EngineProcess) -> dict:
    resp = engine.request("GET", "/v1.47/system/df")
    assert resp.status == 200
    return json.loads(resp.body)


def test_container_prune_reports_what_it_freed(fresh: tuple[EngineProcess, DockerCLI]) -> None:
    _, docker = fresh
    docker("run", "--name", "filler", "busybox", "sh", "-c", "head -c 70000 /dev/zero > /f")
    out = docker("container", "prune", "-f").stdout
    assert "Total reclaimed space: 70kB" in out


def test_ps_size(fresh: tuple[EngineProcess, DockerCLI]) -> None:
    _, docker = fresh
    docker("run", "--name", "sized", "busybox", "sh", "-c", "head -c 50000 /dev/zero > /f")
    size = docker("ps", "-a", "--size", "--format", "{{.Size}}").stdout.strip()
    assert size.startswith("50kB (virtual ")
