"""The Volumes panel: the Qt-free pieces (the create body, who uses a volume, the helper
container, chunked files) and the panel against a real engine — create with labels and driver
options, users, export and import through a helper container, remove, prune."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.state.file_streams import read_chunks, write_chunks
from desktop_app.state.rows import volume_rows, volume_users
from desktop_app.state.volume_archives import HELPER_LABEL, MOUNT_POINT, helper_config
from desktop_app.state.volume_config import VolumeConfigError, VolumeRequest, parse_pairs
from desktop_app.views.volumes_panel import VolumesPanel
from tests.desktop.fakes import AnsweringPrompts, container
from tests.desktop.qtwait import finish
from tests.support.engine import DockerCLI

# --- Qt-free pieces ------------------------------------------------------------------------


def test_the_create_body() -> None:
    request = VolumeRequest(
        name=" data ",
        labels_text="team=desk\n# a comment\n\nempty\n",
        options_text="type=tmpfs\ndevice=tmpfs\no=size=64m,uid=1000\n",
    )
    assert request.to_create_body() == {
        "Name": "data",
        "Driver": "local",
        "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000"},
        "Labels": {"team": "desk", "empty": ""},
    }
    assert VolumeRequest().to_create_body()["Name"] == ""  # a random name
    with pytest.raises(VolumeConfigError, match="not a valid volume name"):
        VolumeRequest(name="-x").to_create_body()
    with pytest.raises(VolumeConfigError, match="driver option 'type'"):
        VolumeRequest(options_text="type").to_create_body()
    with pytest.raises(VolumeConfigError, match="label 'a b=c'"):
        parse_pairs("a b=c", "label", empty_values=True)


def test_users_of_volumes() -> None:
    mounts = [{"Type": "volume", "Name": "data"}, {"Type": "bind", "Source": "/srv"}]
    containers = [
        container("1" * 64, "web", Mounts=mounts),
        container("2" * 64, "db", Mounts=[{"Type": "volume", "Name": "data"}]),
        container("3" * 64, "lone"),
    ]
    users = volume_users(containers)
    assert users == {"data": ("db", "web")}
    rows = volume_rows([{"Name": "data"}, {"Name": "spare"}], users)
    assert [(r.name, r.users) for r in rows] == [("data", ("db", "web")), ("spare", ())]


def test_the_helper_container() -> None:
    config = helper_config("data", "busybox:latest", read_only=True)
    assert config["Image"] == "busybox:latest"
    assert config["Labels"] == {HELPER_LABEL: "volume-archive"}
    host = config["HostConfig"]
    assert isinstance(host, dict)
    assert host["Mounts"] == [
        {"Type": "volume", "Source": "data", "Target": MOUNT_POINT, "ReadOnly": True}
    ]
    assert host["AutoRemove"] is True and host["NetworkMode"] == "none"


async def test_files_in_chunks(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 2500)
    seen: list[int] = []
    chunks = [c async for c in read_chunks(source, seen.append, chunk=1000)]
    assert [len(c) for c in chunks] == [1000, 1000, 500] and seen == [1000, 2000, 2500]

    async def produce() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    target = tmp_path / "out.bin"
    assert await write_chunks(produce(), target) == 2500
    assert target.read_bytes() == b"x" * 2500

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        await write_chunks(broken(), target)
    assert target.read_bytes() == b"x" * 2500  # the old file stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.bin", "out.bin"]


# --- the panel against a real engine --------------------------------------------------------


# The page the shared ``desktop`` fixture (conftest) opens.
DESKTOP_PAGE = "Volumes"


def names(panel: VolumesPanel) -> list[str]:
    return panel.model.column_texts("Name")


def select(panel: VolumesPanel, name: str) -> None:
    panel.table.clearSelection()
    assert panel.select_key(name)


@pytest.mark.e2e
def test_create_with_labels_and_driver_options(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, prompts: AnsweringPrompts
) -> None:
    panel = desktop.window.volumes
    dialog = panel.open_create_dialog()
    dialog.name_edit.setText("-bad")
    dialog.accept()
    assert dialog.isVisible() and "not a valid volume name" in dialog.problem.text()
    dialog.name_edit.setText("gui-tmp")
    dialog.labels_edit.setPlainText("team=desk\nempty")
    dialog.options_edit.setPlainText("type=tmpfs\ndevice=tmpfs\no=size=16m")
    dialog.accept()
    assert not dialog.isVisible()
    finish(qtbot, dialog.task)
    qtbot.waitUntil(lambda: "gui-tmp" in names(panel), timeout=3000)
    details = json.loads(docker("volume", "inspect", "gui-tmp").stdout)[0]
    assert details["Labels"] == {"team": "desk", "empty": ""}
    assert details["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}

    dialog = panel.open_create_dialog()
    dialog.driver_edit.setText("nfs-plugin")
    dialog.accept()
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=3000)
    assert prompts.errors[-1][0] == "Could not create the volume"
    assert "nfs-plugin" in prompts.errors[-1][1] and "Traceback" not in prompts.errors[-1][1]

    prompts.errors.clear()
    finish(qtbot, panel.prune(all_unused=True))
    qtbot.waitUntil(lambda: prompts.infos != [], timeout=3000)
    assert prompts.infos[-1][1].startswith("Removed ") and "reclaimed" in prompts.infos[-1][1]
    qtbot.waitUntil(lambda: "gui-tmp" not in names(panel), timeout=3000)
    assert prompts.errors == []


@pytest.mark.e2e
def test_export_import_users_and_remove(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    panel = desktop.window.volumes
    docker("volume", "create", "gui-data")
    script = "echo hello > /data/a.txt; mkdir /data/sub; echo deep > /data/sub/b.txt"
    docker("run", "--rm", "-v", "gui-data:/data", "busybox", "sh", "-c", script)
    docker("create", "--name", "vol-user", "-v", "gui-data:/data", "busybox", "true")
    try:
        qtbot.waitUntil(lambda: "gui-data" in names(panel), timeout=3000)
        row = names(panel).index("gui-data")
        qtbot.waitUntil(
            lambda: panel.model.column_texts("Used by")[row] == "vol-user", timeout=3000
        )

        select(panel, "gui-data")
        archive = tmp_path / "gui-data.tar"
        chosen: list[str] = []
        panel.choose_save_path = lambda _p, _t, name, _f: chosen.append(name) or archive
        size = finish(qtbot, panel.export_selected(), timeout=30)
        assert chosen == ["gui-data.tar"] and size == archive.stat().st_size
        assert panel.progress_row.text.text() == f"Exported gui-data to {archive}"
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert {"./a.txt", "./sub", "./sub/b.txt"} <= set(members)
            assert tar.extractfile(members["./a.txt"]).read() == b"hello\n"  # type: ignore[union-attr]
        helpers = docker("ps", "-aq", "--filter", f"label={HELPER_LABEL}").stdout.split()
        assert helpers == []  # the helper went away with the copy

        finish(qtbot, panel.create_volume("gui-copy"))
        qtbot.waitUntil(lambda: "gui-copy" in names(panel), timeout=3000)
        select(panel, "gui-copy")
        prompts.file_answer = archive
        assert finish(qtbot, panel.import_selected(), timeout=30) == archive.stat().st_size
        assert prompts.asked[-1][0] == "Import into gui-copy"
        assert panel.progress_row.text.text() == "Imported gui-data.tar into gui-copy"
        copied = docker("run", "--rm", "-v", "gui-copy:/d", "busybox", "cat", "/d/sub/b.txt")
        assert copied.stdout == "deep\n"

        # Removing a volume a container uses: the engine's refusal, as it words it.
        select(panel, "gui-data")
        refused = panel.remove_selected()
        assert refused is not None and "In use by vol-user" in prompts.asked[-1][1]
        qtbot.waitUntil(lambda: prompts.errors != [], timeout=3000)
        title, text = prompts.errors[-1]
        assert title == "Could not remove" and "in use" in text and "Traceback" not in text

        select(panel, "gui-copy")
        finish(qtbot, panel.remove_selected())
        assert prompts.asked[-1] == ("Remove volumes", "Remove gui-copy? Their data is lost.")
        qtbot.waitUntil(lambda: "gui-copy" not in names(panel), timeout=3000)
    finally:
        docker("rm", "-f", "vol-user", check=False)
        docker("volume", "rm", "-f", "gui-data", "gui-copy", check=False)


@pytest.mark.e2e
def test_copies_report_what_went_wrong(
    qtbot: QtBot, desktop: DesktopApp, docker: DockerCLI, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    panel = desktop.window.volumes
    with pytest.raises(Exception, match="no such volume"):
        finish(qtbot, panel.export_volume("no-such-volume", tmp_path / "x.tar"))
    assert not (tmp_path / "x.tar").exists()
    qtbot.waitUntil(lambda: prompts.errors != [], timeout=3000)
    assert prompts.errors[-1] == (
        "Exporting no-such-volume failed",
        "get no-such-volume: no such volume",
    )
    assert panel.progress_row.text.text() == "Exporting no-such-volume failed"

    docker("volume", "create", "gui-spare")
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    archive = tmp_path / "one.tar"
    archive.write_bytes(data.getvalue())
    try:
        panel.helper_image = "no-such-helper:1"
        with pytest.raises(Exception, match="needs the image no-such-helper:1"):
            finish(qtbot, panel.import_volume("gui-spare", archive))
        panel.helper_image = "busybox:latest"
        with pytest.raises(Exception, match="cannot read"):
            finish(qtbot, panel.import_volume("gui-spare", tmp_path / "missing.tar"))
        finish(qtbot, panel.import_volume("gui-spare", archive), timeout=30)
        shown = docker("run", "--rm", "-v", "gui-spare:/d", "busybox", "cat", "/d/hello.txt")
        assert shown.stdout == "hi\n"
    finally:
        docker("volume", "rm", "-f", "gui-spare", check=False)
