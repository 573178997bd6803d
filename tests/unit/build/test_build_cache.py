"""engine.build.cache: step keys, and the file that maps them to the images they made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.build.cache import BuildCache, step_key

PARENT = "sha256:" + "1" * 64
IMAGE = "sha256:" + "2" * 64
OTHER = "sha256:" + "3" * 64
CREATED_BY = "/bin/sh -c #(nop)  ENV A=1"


def test_step_key_is_a_stable_sha256() -> None:
    key = step_key(PARENT, CREATED_BY, {"Env": ["A=1"], "Cmd": ["sh"]})
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert key == step_key(PARENT, CREATED_BY, {"Env": ["A=1"], "Cmd": ["sh"]})
    # Only the content of the config counts, not the order its keys were set in.
    assert key == step_key(PARENT, CREATED_BY, {"Cmd": ["sh"], "Env": ["A=1"]})


@pytest.mark.parametrize(
    ("parent", "created_by", "config"),
    [
        (OTHER, CREATED_BY, {"Env": ["A=1"]}),
        ("", CREATED_BY, {"Env": ["A=1"]}),
        (PARENT, "/bin/sh -c #(nop)  ENV A=2", {"Env": ["A=1"]}),
        (PARENT, CREATED_BY, {"Env": ["A=2"]}),
        (PARENT, CREATED_BY, {"Env": ["A=1"], "User": "app"}),
        (PARENT, CREATED_BY, {}),
    ],
)
def test_step_key_changes_with_each_part(
    parent: str, created_by: str, config: dict[str, object]
) -> None:
    assert step_key(parent, created_by, config) != step_key(PARENT, CREATED_BY, {"Env": ["A=1"]})


def test_step_key_parts_cannot_run_into_each_other() -> None:
    assert step_key("ab", "c", {}) != step_key("a", "bc", {})
    assert step_key("", "x", {}) != step_key("x", "", {})


def test_lookup_finds_a_recorded_step_only_while_its_image_exists(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    key = step_key(PARENT, CREATED_BY, {})
    assert cache.lookup(key, {IMAGE}) is None
    cache.record(key, IMAGE, PARENT, CREATED_BY)
    assert cache.lookup(key, {IMAGE}) == IMAGE
    assert cache.lookup(key, {IMAGE: object()}) == IMAGE  # the image store's dict
    assert cache.lookup(key, {OTHER}) is None
    assert cache.lookup(key, set()) is None
    assert cache.lookup("0" * 64, {IMAGE}) is None


def test_lookup_counts_uses(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    cache.record("k", IMAGE, PARENT, CREATED_BY)
    [entry] = cache.entries()
    assert (entry.key, entry.image_id, entry.parent_id, entry.description) == (
        "k", IMAGE, PARENT, CREATED_BY,
    )  # fmt: skip
    assert entry.usage_count == 1
    first_use = entry.last_used_at
    cache.lookup("k", {IMAGE})
    cache.lookup("k", {IMAGE})
    cache.lookup("k", set())  # a miss is not a use
    [entry] = cache.entries()
    assert entry.usage_count == 3
    assert entry.last_used_at >= first_use >= entry.created_at


def test_record_replaces_an_entry(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    cache.record("k", IMAGE, PARENT, CREATED_BY)
    cache.record("k", OTHER, PARENT, CREATED_BY)
    assert cache.lookup("k", {IMAGE, OTHER}) == OTHER
    assert len(cache.entries()) == 1


def test_entries_persist_across_instances(tmp_path: Path) -> None:
    directory = tmp_path / "builder"  # created on first save
    BuildCache(directory).record("k", IMAGE, PARENT, CREATED_BY)
    assert (directory / "cache.json").is_file()
    stored = json.loads((directory / "cache.json").read_text())
    assert stored["k"]["image_id"] == IMAGE
    again = BuildCache(directory)
    assert again.lookup("k", {IMAGE}) == IMAGE
    assert BuildCache(directory).entries()[0].usage_count == 2


@pytest.mark.parametrize(
    "content",
    [b"{bad", b"", b'{"k": 1}', b'{"k": {"unknown": 1}}', b"\xff\xfe"],
)
def test_corrupt_file_starts_afresh(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "cache.json").write_bytes(content)
    cache = BuildCache(tmp_path)
    assert cache.entries() == []
    assert cache.lookup("k", {IMAGE}) is None
    cache.record("k", IMAGE, PARENT, CREATED_BY)
    assert BuildCache(tmp_path).lookup("k", {IMAGE}) == IMAGE


@pytest.mark.parametrize("content", [b"[]", b'"text"', b"null"])
def test_cache_file_of_the_wrong_shape_starts_afresh(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "cache.json").write_bytes(content)
    assert BuildCache(tmp_path).entries() == []


def test_forget(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    cache.record("a", IMAGE, PARENT, CREATED_BY)
    cache.record("b", OTHER, PARENT, CREATED_BY)
    cache.forget({"a", "never-recorded"})
    assert [e.key for e in cache.entries()] == ["b"]
    assert cache.lookup("a", {IMAGE}) is None
    assert [e.key for e in BuildCache(tmp_path).entries()] == ["b"]
    cache.forget(set())
    assert len(cache.entries()) == 1
