"""The URL → username index: atomic writes, and no lost entries under concurrent stores."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from doca.credhelper.index import CorruptIndex, Index


def test_empty_then_set_and_remove(tmp_path: Path) -> None:
    index = Index(tmp_path / "d")
    assert index.read() == {}
    index.set("r.example", "u")
    index.set("docker.io", "<token>")
    assert index.read() == {"r.example": "u", "docker.io": "<token>"}
    index.remove("r.example")
    index.remove("not-there")
    assert index.read() == {"docker.io": "<token>"}
    # Only the index and its lock file: no temp files left behind; private permissions.
    assert sorted(p.name for p in index.directory.iterdir()) == [
        "credhelper-index.json",
        "credhelper-index.json.lock",
    ]
    assert index.path.stat().st_mode & 0o077 == 0


def test_default_dir_under_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Index().path == tmp_path / "doca" / "credhelper-index.json"


def test_corrupt_index_is_an_error(tmp_path: Path) -> None:
    index = Index(tmp_path)
    index.path.write_text("{oops")
    with pytest.raises(CorruptIndex, match="corrupt"):
        index.read()


def _store_many(directory: str, worker: int, count: int) -> None:
    index = Index(Path(directory))
    for i in range(count):
        index.set(f"r{worker}-{i}.example", f"user{worker}")
    os._exit(0)


def test_concurrent_stores_from_processes_keep_every_entry(tmp_path: Path) -> None:
    workers, count = 6, 40
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_store_many, args=(str(tmp_path), w, count)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    entries = Index(tmp_path).read()
    assert len(entries) == workers * count
    assert entries["r3-17.example"] == "user3"
