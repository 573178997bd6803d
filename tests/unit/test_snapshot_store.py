"""Tests for the snapshot store: chain IDs, build-once, crash cleanup."""

import hashlib
from pathlib import Path

import pytest

from engine.errors import NotFound
from engine.snapshots.store import SnapshotInfo, SnapshotStore, chain_ids

D1, D2, D3 = ("sha256:" + hashlib.sha256(n).hexdigest() for n in (b"one", b"two", b"three"))


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    root = tmp_path / "snapshots"
    root.mkdir()
    return SnapshotStore(root)


class Applier:
    """An ``apply`` callback that writes one file and counts its calls."""

    def __init__(self, name: str, data: bytes = b"x") -> None:
        self.name, self.data, self.calls = name, data, 0

    def __call__(self, diff: Path) -> int:
        self.calls += 1
        (diff / self.name).write_bytes(self.data)
        return len(self.data)


def _build(store: SnapshotStore, diff_ids: list[str]) -> list[str]:
    chains = chain_ids(diff_ids)
    parent = None
    for chain, diff_id in zip(chains, diff_ids, strict=True):
        store.create(chain, parent, diff_id, Applier(diff_id[-6:]))
        parent = chain
    return chains


def test_chain_ids_follow_oci_formula() -> None:
    c1 = D1
    c2 = _sha(f"{c1} {D2}")
    c3 = _sha(f"{c2} {D3}")
    assert chain_ids([D1, D2, D3]) == [c1, c2, c3]
    assert chain_ids([]) == []


def test_chain_ids_depend_on_order() -> None:
    assert chain_ids([D1, D2])[1] != chain_ids([D2, D1])[1]


def test_create_builds_snapshot(store: SnapshotStore) -> None:
    apply = Applier("file", b"hello")
    info = store.create(D1, None, D1, apply)
    assert info == SnapshotInfo(D1, None, D1, 5)
    assert apply.calls == 1
    assert store.exists(D1)
    assert (store.diff(D1) / "file").read_bytes() == b"hello"
    assert store.directory(D1) == store.root / D1.removeprefix("sha256:")
    assert store.info(D1) == info


def test_create_twice_applies_once(store: SnapshotStore) -> None:
    first = Applier("file", b"first")
    store.create(D1, None, D1, first)
    second = Applier("other", b"second!")
    info = store.create(D1, None, D1, second)
    assert second.calls == 0
    assert first.calls == 1
    assert info.size == 5
    assert not (store.diff(D1) / "other").exists()


def test_failed_apply_leaves_nothing(store: SnapshotStore) -> None:
    def apply(diff: Path) -> int:
        (diff / "partial").write_bytes(b"half")
        raise RuntimeError("bad layer")

    with pytest.raises(RuntimeError, match="bad layer"):
        store.create(D1, None, D1, apply)
    assert not store.exists(D1)
    assert list(store.root.iterdir()) == []


def test_missing_parent_raises_not_found(store: SnapshotStore) -> None:
    apply = Applier("file")
    chain = chain_ids([D1, D2])[1]
    with pytest.raises(NotFound, match="parent"):
        store.create(chain, D1, D2, apply)
    assert apply.calls == 0
    assert list(store.root.iterdir()) == []


def test_info_of_missing_snapshot_raises_not_found(store: SnapshotStore) -> None:
    with pytest.raises(NotFound):
        store.info(D1)


def test_lowerdirs_topmost_first(store: SnapshotStore) -> None:
    c1, c2, c3 = _build(store, [D1, D2, D3])
    assert store.lowerdirs(c3) == [store.diff(c3), store.diff(c2), store.diff(c1)]
    assert store.lowerdirs(c1) == [store.diff(c1)]
    assert store.info(c3).parent == c2


def test_remove(store: SnapshotStore) -> None:
    c1, c2 = _build(store, [D1, D2])
    store.remove(c2)
    assert not store.exists(c2)
    assert not store.directory(c2).exists()
    assert store.exists(c1)
    assert store.chain_ids() == [c1]
    assert list(store.root.iterdir()) == [store.directory(c1)]
    store.remove(c2)  # removing twice is not an error


def test_chain_ids_lists_snapshots(store: SnapshotStore) -> None:
    chains = _build(store, [D1, D2])
    (store.root / ".tmp-leftover").mkdir()
    assert sorted(store.chain_ids()) == sorted(chains)


def test_clean_removes_temps_and_half_built(store: SnapshotStore) -> None:
    (c1,) = _build(store, [D1])
    (store.root / ".tmp-abc" / "diff").mkdir(parents=True)
    (store.root / ".tmp-rm-def").mkdir()
    half = store.root / ("f" * 64)
    (half / "diff").mkdir(parents=True)
    assert store.clean() == 3
    assert list(store.root.iterdir()) == [store.directory(c1)]
    assert store.exists(c1)
    assert store.clean() == 0
