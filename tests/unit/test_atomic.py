"""Tests for crash-safe file writes."""

import os
from pathlib import Path

import pytest

from engine.meta.atomic import fsync_dir, read_json, remove_stale_temps, write_bytes, write_json


def test_write_json_read_json_round_trip(tmp_path: Path) -> None:
    value = {"b": [1, 2.5, None, True], "a": {"nested": "ünïcode"}}
    path = tmp_path / "meta.json"
    write_json(path, value)
    assert read_json(path) == value


def test_write_json_is_sorted_and_indented(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_json(path, {"b": 1, "a": 2})
    assert path.read_text() == '{\n  "a": 2,\n  "b": 1\n}'


def test_read_json_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "absent.json")


def test_replacement_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"version": 1})
    inode = path.stat().st_ino
    write_json(path, {"version": 2})
    assert read_json(path) == {"version": 2}
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_write_bytes_mode(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        write_bytes(tmp_path / "private", b"secret")
        write_bytes(tmp_path / "public", b"open", mode=0o644)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "public").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private").read_bytes() == b"secret"


def test_write_bytes_large_and_empty(tmp_path: Path) -> None:
    big = os.urandom(3 << 20)
    write_bytes(tmp_path / "big", big)
    assert (tmp_path / "big").read_bytes() == big
    write_bytes(tmp_path / "big", b"")
    assert (tmp_path / "big").read_bytes() == b""


def test_write_bytes_overwrites_a_stale_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    (tmp_path / f".state.json.tmp-{os.getpid()}").write_bytes(b"garbage from a crash" * 10)
    write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_remove_stale_temps(tmp_path: Path) -> None:
    (tmp_path / ".a.json.tmp-123").write_bytes(b"half")
    (tmp_path / ".b.tmp-9").write_bytes(b"half")
    keep = ["a.json", ".hidden", "x.tmp-1", "notes.tmp"]
    for name in keep:
        (tmp_path / name).write_bytes(b"keep")
    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_remove_stale_temps_empty_directory(tmp_path: Path) -> None:
    remove_stale_temps(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fsync_dir_rejects_a_file(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "f")


def test_read_records_skips_what_it_cannot_read(tmp_path: Path) -> None:
    from engine.meta.records import read_records

    (tmp_path / "a.json").write_text('{"n": 1}')
    (tmp_path / "b.json").write_text("{not json")
    (tmp_path / "c.json").write_text('{"m": 2}')  # parse() raises KeyError for it
    (tmp_path / "d.txt").write_text('{"n": 4}')
    assert list(read_records(tmp_path, lambda data: data["n"], "thing")) == [1]
