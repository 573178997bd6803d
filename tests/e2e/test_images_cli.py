"""The image store driven by the real docker CLI: load, list, inspect, history, tag, remove,
prune, import, and save/load round trips."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.support.engine import DockerCLI, EngineProcess
from tests.support.testimage import TestImage, build_layer_tar, build_save_tar


def inspect(docker: DockerCLI, name: str) -> dict:
    return json.loads(docker("image", "inspect", name).stdout)[0]


def image_names(docker: DockerCLI) -> set[str]:
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    return set(out.split())


def test_load_lists_and_inspects(docker: DockerCLI, loaded_busybox: TestImage) -> None:
    out = docker("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout
    assert f"busybox latest {loaded_busybox.image_id[7:19]}" in out.splitlines()
    data = inspect(docker, "busybox")
    assert data["Id"] == loaded_busybox.image_id
    assert data["RepoTags"] == ["busybox:latest"]
    assert data["RootFS"]["Layers"] == loaded_busybox.diff_ids
    assert data["Config"]["Cmd"] == ["sh"]
    assert data["Os"] == "linux"
    assert data["Size"] > 1_000_000
    # the same image by full ID, short ID and fully qualified reference
    for name in (data["Id"], data["Id"][7:19], "docker.io/library/busybox:latest"):
        assert inspect(docker, name)["Id"] == data["Id"]


def test_load_prints_what_it_loaded(docker: DockerCLI, test_image: TestImage) -> None:
    out = docker("load", "-i", str(test_image.save_tar)).stdout
    assert "Loaded image: busybox:latest" in out


def test_history_lists_layers_newest_first(docker: DockerCLI, loaded_busybox: TestImage) -> None:
    rows = docker(
        "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "busybox"
    ).stdout.splitlines()
    assert len(rows) == 2
    assert rows[0].startswith(loaded_busybox.image_id + "|")
    assert "CMD" in rows[0] and rows[0].endswith("|0B")
    assert rows[1].startswith("<missing>|") and "ADD" in rows[1]
    assert not rows[1].endswith("|0B")


def test_tag_and_remove_tags(docker: DockerCLI, loaded_busybox: TestImage) -> None:
    docker("tag", "busybox", "example.com:5000/team/app:v1")
    docker("tag", loaded_busybox.image_id[7:19], "second")
    names = image_names(docker)
    assert {"example.com:5000/team/app:v1", "second:latest", "busybox:latest"} <= names
    out = docker("rmi", "example.com:5000/team/app:v1", "second").stdout
    assert "Untagged: example.com:5000/team/app:v1" in out
    assert "Untagged: second:latest" in out
    assert "Deleted" not in out  # busybox:latest still names the image
    assert inspect(docker, "busybox")["Id"] == loaded_busybox.image_id


def test_tag_refuses_bad_names(docker: DockerCLI, loaded_busybox: TestImage) -> None:
    result = docker("tag", "busybox", "Bad:1", check=False)
    assert result.returncode != 0
    assert "repository name (library/Bad) must be lowercase" in result.stderr
    result = docker("tag", "nosuchimage", "x:1", check=False)
    assert result.returncode != 0
    assert "No such image: nosuchimage:latest" in result.stderr


def test_rmi_by_id_with_several_tags_needs_force(
    docker: DockerCLI, loaded_busybox: TestImage
) -> None:
    docker("tag", "busybox", "multi:a")
    short = loaded_busybox.image_id[7:19]
    result = docker("rmi", short, check=False)
    assert result.returncode == 1
    assert "image is referenced in multiple repositories" in result.stderr
    assert "(must be forced)" in result.stderr
    docker("rmi", "multi:a")


def test_rmi_unknown_image(docker: DockerCLI) -> None:
    result = docker("rmi", "does-not-exist", check=False)
    assert result.returncode == 1
    assert "No such image: does-not-exist:latest" in result.stderr


def test_save_load_round_trip_keeps_ids_and_digests(
    docker: DockerCLI, loaded_busybox: TestImage, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.tar"
    docker("save", "-o", str(saved), "busybox")
    with tarfile.open(saved) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == ["busybox:latest"]
        assert tar.extractfile("index.json") is not None
    docker("rmi", "busybox")
    assert "busybox:latest" not in image_names(docker)
    out = docker("load", "-i", str(saved)).stdout
    assert "Loaded image: busybox:latest" in out
    data = inspect(docker, "busybox")
    assert data["Id"] == loaded_busybox.image_id
    assert data["RootFS"]["Layers"] == loaded_busybox.diff_ids


def test_save_pipe_to_load(docker: DockerCLI, loaded_busybox: TestImage) -> None:
    """``docker save IMG | docker load`` through stdin and stdout."""
    docker("tag", "busybox", "piped:1")
    import subprocess

    from tests.support.engine import DOCKER

    save = subprocess.run(
        [DOCKER, "save", "piped:1"], capture_output=True, env=docker.env(), check=True
    )
    docker("rmi", "piped:1")
    load = subprocess.run(
        [DOCKER, "load"], input=save.stdout, capture_output=True, env=docker.env(), check=True
    )
    assert b"Loaded image: piped:1" in load.stdout
    assert inspect(docker, "piped:1")["Id"] == loaded_busybox.image_id
    docker("rmi", "piped:1")


def test_import_with_changes(docker: DockerCLI, test_image: TestImage) -> None:
    out = docker(
        "import",
        str(test_image.rootfs_tar),
        "imported:1",
        "--change",
        'CMD ["sh"]',
        "--change",
        "ENV GREETING=hello",
        "--change",
        "WORKDIR /srv",
        "--message",
        "from a test",
    ).stdout
    image_id = out.strip()
    assert image_id.startswith("sha256:")
    data = inspect(docker, "imported:1")
    assert data["Id"] == image_id
    assert data["Config"]["Cmd"] == ["sh"]
    assert "GREETING=hello" in data["Config"]["Env"]
    assert data["Config"]["WorkingDir"] == "/srv"
    assert data["Comment"] == "from a test"
    # the imported layer is the rootfs tar as given
    assert data["RootFS"]["Layers"] == test_image.diff_ids
    result = docker("import", "--change", "RUN true", str(test_image.rootfs_tar), check=False)
    assert result.returncode != 0
    assert "is not a valid change command" in result.stderr
    docker("rmi", "imported:1")


def test_multi_layer_image_with_whiteouts(
    docker: DockerCLI, engine: EngineProcess, test_image: TestImage, tmp_path: Path
) -> None:
    layer = build_layer_tar(
        tmp_path / "layer2.tar",
        {"etc/motd": b"hello\n"},
        whiteouts=["etc/group"],
    )
    save = tmp_path / "two.tar"
    image_id, diff_ids = build_save_tar(
        save, test_image.rootfs_tar, ["two-layers:1"], extra_layers=[layer]
    )
    docker("load", "-i", str(save))
    data = inspect(docker, "two-layers:1")
    assert data["Id"] == image_id
    assert data["RootFS"]["Layers"] == diff_ids
    lower = data["GraphDriver"]["Data"]["LowerDir"].split(":")
    assert len(lower) == 2
    top = Path(lower[0])
    assert (top / "etc" / "motd").read_bytes() == b"hello\n"
    whiteout = (top / "etc" / "group").lstat()
    assert (whiteout.st_mode & 0o170000) == 0o020000 and whiteout.st_rdev == 0
    # the base layer is shared with busybox, not unpacked twice
    busybox_lower = inspect(docker, test_image.image_id)["GraphDriver"]["Data"]["LowerDir"]
    assert lower[1] == busybox_lower
    docker("rmi", "two-layers:1")
    assert not top.exists()
    assert Path(busybox_lower).exists()


def test_prune_removes_dangling_only_by_default(
    docker: DockerCLI, test_image: TestImage, tmp_path: Path
) -> None:
    save = tmp_path / "dangling.tar"
    image_id, _ = build_save_tar(
        save, test_image.rootfs_tar, [], config_overrides={"config": {"Labels": {"k": "v"}}}
    )
    docker("load", "-i", str(save))
    dangling = docker("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout.split()
    assert image_id in dangling
    out = docker("image", "prune", "-f").stdout
    assert f"deleted: {image_id}" in out
    assert "Total reclaimed space" in out
    all_ids = docker("images", "-q", "--no-trunc").stdout.split()
    assert image_id not in all_ids
    assert test_image.image_id in all_ids  # tagged images stay


def test_prune_all_removes_unused_tagged_images(
    docker: DockerCLI, test_image: TestImage, tmp_path: Path
) -> None:
    save = tmp_path / "unused.tar"
    image_id, _ = build_save_tar(
        save, test_image.rootfs_tar, ["unused:1"], config_overrides={"config": {"User": "app"}}
    )
    docker("load", "-i", str(save))
    out = docker("image", "prune", "-a", "-f", "--filter", "label!=keep").stdout
    assert "untagged: unused:1" in out
    assert f"deleted: {image_id}" in out
    docker("load", "-i", str(test_image.save_tar))  # put busybox back for later tests


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("reference=busybox", {"busybox:latest"}),
        ("reference=busy*", {"busybox:latest"}),
        ("reference=lab*", {"labelled:1"}),
        ("label=tier=web", {"labelled:1"}),
        ("label=tier", {"labelled:1"}),
        ("before=labelled:1", {"busybox:latest"}),
    ],
)
def test_image_list_filters(
    docker: DockerCLI, test_image: TestImage, tmp_path: Path, flt: str, expected: set[str]
) -> None:
    if "labelled:1" not in image_names(docker):
        save = tmp_path / "labelled.tar"
        build_save_tar(
            save,
            test_image.rootfs_tar,
            ["labelled:1"],
            config_overrides={
                "created": "2025-06-01T00:00:00Z",
                "config": {"Labels": {"tier": "web"}},
            },
        )
        docker("load", "-i", str(save))
    docker("load", "-i", str(test_image.save_tar))
    out = docker("images", "--filter", flt, "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert set(out.split()) == expected
