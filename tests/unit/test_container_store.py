"""engine.containers.store: records in memory and on disk, looked up as dockerd's GetContainer
does (full ID, exact name, then unique ID prefix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.containers.model import ContainerRecord, ContainerState
from engine.containers.state import Status
from engine.containers.store import ContainerStore
from engine.errors import InvalidParameter, NotFound

ID_A = "abc123" + "0" * 58
ID_B = "abd456" + "1" * 58
ID_C = "f00" + "2" * 61


def _record(container_id: str, name: str, **state: object) -> ContainerRecord:
    return ContainerRecord(
        id=container_id,
        name=name,
        created="2024-01-01T00:00:00.000000000Z",
        image_id="sha256:" + "e" * 64,
        image="busybox",
        config={"Cmd": ["sh"], "Labels": {"app": name.lstrip("/")}},
        host_config={"NetworkMode": "default"},
        path="sh",
        args=[],
        state=ContainerState(**state),  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    root = tmp_path / "containers"
    root.mkdir()
    store = ContainerStore(root)
    store.add(_record(ID_A, "/web"))
    store.add(_record(ID_B, "/db"))
    store.add(_record(ID_C, "/cache"))
    return store


def test_get_by_full_id(store: ContainerStore) -> None:
    assert store.get(ID_A).name == "/web"


@pytest.mark.parametrize("ref", ["web", "/web"])
def test_get_by_name_with_or_without_slash(store: ContainerStore, ref: str) -> None:
    assert store.get(ref).id == ID_A


@pytest.mark.parametrize(("prefix", "expected"), [("abc", ID_A), ("abd4", ID_B), ("f", ID_C)])
def test_get_by_unique_prefix(store: ContainerStore, prefix: str, expected: str) -> None:
    assert store.get(prefix).id == expected


def test_ambiguous_prefix(store: ContainerStore) -> None:
    with pytest.raises(InvalidParameter) as info:
        store.get("ab")
    assert info.value.message == "multiple IDs found with provided prefix: ab"


@pytest.mark.parametrize("ref", ["nothing", "/nothing", "abc1234", "0"])
def test_not_found(store: ContainerStore, ref: str) -> None:
    with pytest.raises(NotFound) as info:
        store.get(ref)
    assert info.value.message == f"No such container: {ref}"


def test_empty_ref_is_not_a_prefix_of_everything(store: ContainerStore) -> None:
    with pytest.raises(NotFound):
        store.get("")


def test_a_name_wins_over_an_id_prefix(store: ContainerStore) -> None:
    # dockerd: exact ID, then exact name, then prefix
    store.add(_record("9" * 64, "/abc"))
    assert store.get("abc").id == "9" * 64
    assert store.get("abc1").id == ID_A


def test_a_full_id_wins_over_a_name(store: ContainerStore) -> None:
    store.add(_record("7" * 64, "/" + ID_B))
    assert store.get(ID_B).id == ID_B


def test_add_writes_config_and_state(store: ContainerStore) -> None:
    directory = store.directory(ID_A)
    assert directory.is_dir()
    config = json.loads((directory / "config.json").read_text())
    assert config["id"] == ID_A
    assert config["name"] == "/web"
    assert "state" not in config
    state = json.loads((directory / "state.json").read_text())
    assert state["status"] == "created"


def test_len_iter_names(store: ContainerStore) -> None:
    assert len(store) == 3
    assert {r.id for r in store} == {ID_A, ID_B, ID_C}
    assert store.names() == {"/web", "/db", "/cache"}
    assert store.name_owner("/db") == ID_B
    assert store.name_owner("db") is None  # names are kept canonical, with the slash


def test_iterating_while_removing_is_safe(store: ContainerStore) -> None:
    for record in store:
        store.remove(record)
    assert len(store) == 0


def test_rename(store: ContainerStore) -> None:
    record = store.get("web")
    store.rename(record, "/frontend")
    assert store.get("frontend") is record
    assert record.name == "/frontend"
    with pytest.raises(NotFound):
        store.get("web")
    assert store.names() == {"/frontend", "/db", "/cache"}
    saved = json.loads((store.directory(ID_A) / "config.json").read_text())
    assert saved["name"] == "/frontend"


def test_remove_forgets_the_record_and_deletes_its_directory(store: ContainerStore) -> None:
    record = store.get("web")
    store.remove(record)
    assert not store.directory(ID_A).exists()
    with pytest.raises(NotFound):
        store.get(ID_A)
    with pytest.raises(NotFound):
        store.get("web")
    assert store.name_owner("/web") is None
    assert len(store) == 2


def test_remove_keeps_a_name_that_now_belongs_to_another(store: ContainerStore) -> None:
    old = store.get("web")
    store.rename(old, "/old-web")
    store.add(_record("8" * 64, "/web"))
    stale = _record(ID_A, "/web")  # a copy that still carries the old name
    store.remove(stale)
    assert store.get("web").id == "8" * 64


def test_load_restores_records_and_state(tmp_path: Path) -> None:
    root = tmp_path / "containers"
    root.mkdir()
    first = ContainerStore(root)
    first.add(_record(ID_A, "/web", status=Status.EXITED, exit_code=3, pid=0))
    running = _record(ID_B, "/db")
    first.add(running)
    running.state.status = Status.RUNNING
    running.state.pid = 4242
    first.save_state(running)

    second = ContainerStore(root)
    second.load()
    assert len(second) == 2
    web = second.get("web")
    assert web.id == ID_A
    assert web.state.status is Status.EXITED
    assert web.state.exit_code == 3
    assert web.config == {"Cmd": ["sh"], "Labels": {"app": "web"}}
    db = second.get(ID_B[:5])
    assert (db.state.status, db.state.pid) == (Status.RUNNING, 4242)


def test_load_drops_a_directory_without_config(tmp_path: Path) -> None:
    root = tmp_path / "containers"
    root.mkdir()
    ContainerStore(root).add(_record(ID_A, "/web"))
    half = root / ID_B
    half.mkdir()
    (half / "state.json").write_text('{"status": "created"}')
    broken = root / ID_C
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (root / "stray-file").write_text("not a container")

    store = ContainerStore(root)
    store.load()
    assert [r.id for r in store] == [ID_A]
    assert not half.exists()
    assert not broken.exists()
    assert (root / "stray-file").exists()


def test_load_without_state_file_gives_a_created_record(tmp_path: Path) -> None:
    root = tmp_path / "containers"
    root.mkdir()
    ContainerStore(root).add(_record(ID_A, "/web"))
    (root / ID_A / "state.json").unlink()
    store = ContainerStore(root)
    store.load()
    assert store.get("web").state.status is Status.CREATED


def test_load_removes_stale_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "containers"
    root.mkdir()
    ContainerStore(root).add(_record(ID_A, "/web"))
    stale = root / ID_A / ".config.json.tmp-12345"
    stale.write_text("half written")
    ContainerStore(root).load()
    assert not stale.exists()
    assert (root / ID_A / "config.json").exists()
