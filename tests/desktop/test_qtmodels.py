"""The Qt table models: what they show, and that refreshes keep the user's selection."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from desktop_app.qtmodels.resources import ContainersModel, ImagesModel, VolumesModel
from desktop_app.qtmodels.row_model import Column, RowTableModel
from desktop_app.state.resources import ContainersStore, ImagesStore, VolumesStore
from tests.desktop.fakes import FakeEngineClient, container


@dataclass(frozen=True)
class Item:
    key: str
    text: str


def items(*pairs: str) -> list[Item]:
    return [Item(p.split("=")[0], p.split("=")[1]) for p in pairs]


def make_model() -> RowTableModel[Item]:
    return RowTableModel([Column("Key", lambda i: i.key), Column("Text", lambda i: i.text)],
                         key=lambda i: i.key)  # fmt: skip


def test_update_keeps_the_selection_through_changes_removals_and_reordering(
    qtbot: QtBot,
) -> None:
    model = make_model()
    model.set_rows(items("a=1", "b=2", "c=3"))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.selectRow(1)  # b
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))

    model.set_rows(items("a=1", "b=changed", "c=3"))
    model.set_rows(items("c=3", "b=changed", "d=4"))  # a removed, d added, c moved up

    assert resets == []
    assert model.column_texts("Key") == ["c", "b", "d"]
    selected = [i.row() for i in view.selectionModel().selectedRows()]
    assert selected == [1] and model.row_at(1).text == "changed"
    assert model.data(model.index(1, 1)) == "changed"
    assert model.data(model.index(1, 0), Qt.ItemDataRole.UserRole) == "b"
    model.set_rows([])
    assert model.rowCount() == 0 and model.rowCount(model.index(0, 0)) == 0
    assert model.data(QModelIndex()) is None


def test_header_titles(qtbot: QtBot) -> None:
    model = make_model()
    titles = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert titles == ["Key", "Text"]


async def test_models_follow_their_stores(qtbot: QtBot) -> None:
    fake = FakeEngineClient()
    fake.containers.rows = [
        container("1" * 64, "web", Labels={"com.docker.compose.project": "shop"},
                  Ports=[{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]),
        container("2" * 64, "lone", state="exited"),
    ]  # fmt: skip
    fake.images.rows = [{"Id": "sha256:" + "b" * 64, "RepoTags": ["busybox:latest"], "Size": 5}]
    fake.volumes.rows = [{"Name": "data", "Driver": "local", "Mountpoint": "/m"}]
    containers, images, volumes = (
        ContainersStore(fake),  # type: ignore[arg-type]
        ImagesStore(fake),  # type: ignore[arg-type]
        VolumesStore(fake),  # type: ignore[arg-type]
    )
    cmodel, imodel, vmodel = (
        ContainersModel(containers),
        ImagesModel(images, containers),
        VolumesModel(volumes),
    )
    assert cmodel.rowCount() == 0
    await images.refresh()
    assert imodel.column_texts("In use") == [""]
    await containers.refresh()
    await volumes.refresh()
    assert cmodel.column_texts("Project") == ["shop", ""]
    assert cmodel.column_texts("Name") == ["web", "lone"]
    assert cmodel.column_texts("Ports") == ["0.0.0.0:8080->80/tcp", ""]
    assert imodel.column_texts("Repository:Tag") == ["busybox:latest"]
    assert imodel.column_texts("In use") == ["in use"]  # web's image
    assert imodel.image_names() == ["busybox:latest"]
    assert vmodel.column_texts("Name") == ["data"]
